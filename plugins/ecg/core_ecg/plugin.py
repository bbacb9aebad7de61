"""Entry point of the ECG plugin (kept light: torch, wfdb and tsai load inside factories)."""
from __future__ import annotations

from core import hookimpl, lazy
from core.specs import AugmentationSpec, DatasetSpec, EncoderSpec, ObjectiveSpec, ProjectorSpec, Recipe

CORE_REQUIRES = ">=0.1,<0.2"


@hookimpl
def core_datasets():
    return [
        DatasetSpec("ecg/ecg5000", lazy("core_ecg.datasets:load_ecg5000"),
                    "UCR ECG5000 (embedded): 500 train/val + 4500 test heartbeats x 140 samples, 5 classes",
                    modality="sequence", embedded=True),
        DatasetSpec("ecg/records", lazy("core_ecg.datasets:load_records"),
                    "your ECG corpus via --data: WFDB (+labels.csv), PTB-XL, UCR .tsv/.ts, .npz/.npy; "
                    "options fs, source_fs, leads, length, sampling, labels, val_fraction, test_fraction, task",
                    modality="sequence", stream=lazy("core_ecg.stream:stream_records")),
    ]


@hookimpl
def core_encoders():
    return [
        EncoderSpec("ecg/cnn", lazy("core_ecg.encoders:build_cnn"), ("sequence",),
                    "TS-TCC 1-D CNN (3 conv blocks 32/64/128, GAP, linear); fast on CPU"),
        EncoderSpec("ecg/inception", lazy("core_ecg.encoders:build_inception"), ("sequence",), "tsai InceptionTimePlus"),
        EncoderSpec("ecg/xresnet1d", lazy("core_ecg.encoders:build_xresnet1d"), ("sequence",), "tsai xresnet1d18plus"),
        EncoderSpec("ecg/cnn-bins", lazy("core_ecg.encoders:build_cnn_bins"), ("sequence",),
                    "TS-TCC CNN blocks, last map pooled to dim/128 time bins and flattened (position kept; "
                    "dim = 128 x L/8: the released LFR flatten)"),
        EncoderSpec("ecg/cnn-flatten", lazy("core_ecg.encoders:build_cnn_flatten"), ("sequence",),
                    "TS-TCC CNN blocks, last map flattened (128 x L/8), linear to dim"),
    ]


@hookimpl
def core_projectors():
    return [ProjectorSpec("ecg/conv1d", lazy("core_ecg.projectors:build_conv1d_bank"), ("sequence",),
                          "random Conv1d bank for ECG (hidden 32, depth 3, kernel 7, stride 2)")]


def build_lfr_fused(input_spec, dim, params, *, projector, sample=None, seed=0):
    """LFR with its GPU path pinned: the fused Triton barlow loss (``loss_impl="triton"``, so a
    missing kernel is an error, never a silent fallback) over the projector bank, which for
    ``ecg/conv1d`` runs all K·r candidate networks as one grouped Conv1d module. ``params``
    may still override ``loss_impl``/``pred_compile``. Needs a CUDA GPU (or TRITON_INTERPRET=1)."""
    import os

    import torch

    from core.errors import UserError
    from core.objectives.lfr import build_lfr
    from core.projectors import projector_build

    params = {"loss_impl": "triton", **params, "seed": seed}
    if params["loss_impl"] == "triton" and not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
        raise UserError("objective ecg/lfr-fused runs its loss as a Triton kernel and needs a CUDA GPU; none is "
                        "visible here: use --objective core/lfr (the same model with the torch loss)")
    return build_lfr(input_spec, dim, params, projector_build(projector, input_spec), sample=sample)


@hookimpl
def core_objectives():
    """A plugin-provided accelerated objective (pattern: docs/hooks.md, core_objectives)."""
    return [ObjectiveSpec("ecg/lfr-fused", build_lfr_fused,
                          "LFR with the fused Triton loss pinned (GPU) over the grouped-conv ECG bank",
                          sample_size=lazy("core.objectives.lfr:sample_size"))]


def _augmentation(name):
    def build(input_spec):
        from core_ecg import augment

        return getattr(augment, f"build_{name}")(input_spec)

    return build


@hookimpl
def core_augmentations():
    """Time-series augmentations for the SimCLR/SimSiam baselines of `core bench` (applied in this order)."""
    return [
        AugmentationSpec("ecg/crop", _augmentation("crop"), ("sequence",),
                         "random resized crop: 60-100 % window stretched back to full length"),
        AugmentationSpec("ecg/scaling", _augmentation("scaling"), ("sequence",),
                         "per-lead amplitude factor ~ N(1, 0.2^2)"),
        AugmentationSpec("ecg/jitter", _augmentation("jitter"), ("sequence",), "additive Gaussian noise, sigma 0.1"),
    ]


@hookimpl
def core_recipes():
    return [Recipe(
        name="ecg/default", dataset="ecg/ecg5000", data_dataset="ecg/records",
        encoder="ecg/cnn", projector="ecg/conv1d",
        # the released code's time-series protocol: 40 epochs (120 steps of ECG5000's pool), K=6 from r=10 candidates, 5 predictor epochs
        params={"steps": 120, "batch_size": 128, "lr": 3e-4, "weight_decay": 3e-4, "dim": 128,
                "objective_params": {"k": 6, "candidates_per_slot": 10, "pred_epochs": 5}},
        description="LFR on ECG5000 with the TS-TCC CNN, K=6 random Conv1d targets (released-code settings)",
    )]
