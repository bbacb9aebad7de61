"""Entry point of the pathology plugin (kept light: torch, MONAI, tifffile load inside factories)."""
from __future__ import annotations

from core import hookimpl, lazy
from core.specs import DatasetSpec, EncoderSpec, EvaluatorSpec, ProjectorSpec, Recipe

CORE_REQUIRES = ">=0.1,<0.2"


@hookimpl
def core_datasets():
    return [
        DatasetSpec("pathology/tiles", lazy("core_pathology.datasets:load_tiles"),
                    "680 64px tiles of 3 real slides (embedded); derived regression targets: tissue fraction (Otsu "
                    "on saturation), haematoxylin and DAB density (rgb2hed); split by spatial blocks",
                    modality="image", embedded=True),
        DatasetSpec("pathology/tissue", lazy("core_pathology.datasets:load_tissue"),
                    "the same embedded tiles, binary tissue vs background (Otsu on saturation)",
                    modality="image", embedded=True),
        DatasetSpec("pathology/files", lazy("core_pathology.datasets:load_files"),
                    "your data via --data: slides (SVS/TIFF pyramids, tiled lazily), class folders of tiles, or a "
                    "CSV manifest path,label[,slide_id]; options tile_size, level|mpp|magnification, overlap, "
                    "min_tissue, backend, stain_norm, ...", modality="image",
                    stream=lazy("core_pathology.stream:stream_files"),
                    shard_split=lazy("core_pathology.stream:shard_split")),
    ]


@hookimpl
def core_encoders():
    return [
        EncoderSpec("pathology/cnn", lazy("core_pathology.encoders:build_small_cnn"), ("image",),
                    "small CNN: 4 Conv3x3-BN-ReLU blocks (32-64-128-128), mean+max pool; fast on CPU"),
        EncoderSpec("pathology/resnet10", lazy("core_pathology.encoders:build_resnet10"), ("image",),
                    "MONAI ResNet-10 (2-D, 3x3 stem, no max pool), classification layer removed"),
        EncoderSpec("pathology/resnet18", lazy("core_pathology.encoders:build_resnet18"), ("image",),
                    "MONAI ResNet-18 (2-D, 3x3 stem, no max pool), classification layer removed"),
        EncoderSpec("pathology/densenet121", lazy("core_pathology.encoders:build_densenet121"), ("image",),
                    "MONAI DenseNet-121 (2-D), output layer removed"),
    ]


@hookimpl
def core_projectors():
    return [ProjectorSpec("pathology/conv2d", lazy("core_pathology.projectors:build_conv2d_bank"), ("image",),
                          "K random Conv2d nets for tiles (hidden 32, depth 3, 3x3, stride 2; core Conv2dBank)")]


@hookimpl
def core_evaluators():
    return [
        EvaluatorSpec("pathology/per-target", lazy("core_pathology.evaluators:per_target"), ("regression",),
                      "ridge probe per regression target (alpha on val): r2_/spearman_<target>"),
        EvaluatorSpec("pathology/mean-pool", lazy("core_pathology.mil:mean_pool"),
                      ("multiclass", "binary", "regression"),
                      "slide level: mean of a slide's tile embeddings + linear probe (bags; rows = bags of one)"),
        EvaluatorSpec("pathology/attention-mil", lazy("core_pathology.mil:attention_mil"),
                      ("multiclass", "binary", "regression"),
                      "slide level: gated attention MIL (Ilse et al. 2018) trained on bags of tile embeddings"),
    ]


@hookimpl
def core_recipes():
    # the released code's image setting: K=6 beta+dropout-initialised targets, r=1 (no DPP), 5
    # predictor epochs; chosen on val (README) over default init with r=10 DPP, lr 3e-4, 60 epochs
    lfr = {"k": 6, "candidates_per_slot": 1, "init": "beta+dropout", "pred_epochs": 5}
    return [
        Recipe(name="pathology/default", dataset="pathology/tiles", data_dataset="pathology/files",
               encoder="pathology/cnn", projector="pathology/conv2d",
               evaluators=("core/linear", "core/knn", "pathology/per-target"),
               params={"steps": 240, "batch_size": 64, "lr": 1e-3, "weight_decay": 3e-4, "dim": 128,
                       "objective_params": lfr},
               description="LFR on the embedded tiles (derived tissue / H / DAB targets): small CNN, K=6 random "
                           "Conv2d targets (beta+dropout init)"),
        Recipe(name="pathology/tissue", dataset="pathology/tissue", data_dataset="pathology/files",
               encoder="pathology/cnn", projector="pathology/conv2d",
               params={"steps": 240, "batch_size": 64, "lr": 1e-3, "weight_decay": 3e-4, "dim": 128,
                       "objective_params": lfr},
               description="the default recipe on the binary tissue-vs-background form of the embedded tiles"),
    ]


@hookimpl
def core_cli(subparsers):
    """``core slides TILES --labels slides.csv``: slide-level mean pooling and attention MIL."""
    from core_pathology.slides_cli import add_parser

    add_parser(subparsers)
