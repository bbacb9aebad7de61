"""Entry point of the protein plugin (kept light: Biopython and torch load inside factories)."""
from __future__ import annotations

from core import hookimpl, lazy
from core.specs import DatasetSpec, EncoderSpec, ProjectorSpec, Recipe

CORE_REQUIRES = ">=0.1,<0.2"


@hookimpl
def core_datasets():
    return [
        DatasetSpec("protein/amp", lazy("core_protein.datasets:load_amp"),
                    "modlamp AMPvsUniProt (embedded): 5200 peptides, antimicrobial vs random UniProt, binary",
                    modality="tokens", embedded=True),
        DatasetSpec("protein/file", lazy("core_protein.datasets:load_file"),
                    "your proteins via --data: FASTA (+ labels CSV or --label-regex), Stockholm families, "
                    "UniProt .dat, PDB/mmCIF folders", modality="tokens",
                    stream=lazy("core_protein.stream:stream_file"), shard_split=lazy("core_protein.stream:shard_split")),
    ]


@hookimpl
def core_encoders():
    return [
        EncoderSpec("protein/cnn", lazy("core_protein.encoders:build_cnn"), ("tokens",),
                    "dilated residual 1-D CNN over residue embeddings (128 wide, dilations 1-8), padding-exact"),
        EncoderSpec("protein/transformer", lazy("core_protein.encoders:build_transformer"), ("tokens",),
                    "small pre-norm transformer (3 layers, 128 wide, 4 heads), key-padding mask, masked mean"),
        EncoderSpec("protein/contact", lazy("core_protein.encoders:build_contact"), ("tokens",),
                    "dilated CNN + graph convolutions over the Cα contact map (< 8 Å); needs PDB/mmCIF input"),
    ]


@hookimpl
def core_projectors():
    return [
        ProjectorSpec("protein/residue_conv", lazy("core_protein.projectors:build_residue_conv_bank"), ("tokens",),
                      "K random residue embeddings (32) + Conv1d(128, kernel 9) + masked mean + linear"),
        ProjectorSpec("protein/spectrum", lazy("core_protein.projectors:build_spectrum_bank"), ("tokens",),
                      "K random MLPs on residue + dipeptide frequencies (420)"),
    ]


@hookimpl
def core_recipes():
    return [Recipe(
        name="protein/default", dataset="protein/amp", data_dataset="protein/file",
        encoder="protein/cnn", projector="protein/residue_conv",
        params={"steps": 108, "batch_size": 128, "lr": 3e-4, "weight_decay": 3e-4, "dim": 128,
                "objective_params": {"k": 6, "candidates_per_slot": 10, "pred_epochs": 5}},
        description="LFR on AMPvsUniProt peptides: dilated residual CNN, K=6 random residue-conv targets",
    )]
