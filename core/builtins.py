"""The core's own pieces, registered through the plugin manager like any plugin.

Heavy imports happen inside the factories so that listing plugins stays fast.
"""
from __future__ import annotations

import math

from core import hookimpl, lazy
from core.specs import EncoderSpec, ObjectiveSpec, ProjectorSpec


def _bank(kind):
    def build(spec, k, out_dim):
        from core import projectors

        if kind == "mlp":
            return projectors.MLPBank(math.prod(spec.shape), k, out_dim)
        if kind == "conv1d":
            return projectors.Conv1dBank(spec.shape[0], k, out_dim)
        if kind == "conv2d":
            return projectors.Conv2dBank(spec.shape[0], k, out_dim)
        return projectors.TokenConvBank(spec.vocab_size, k, out_dim)

    return build


def _build_lfr(input_spec, dim, params, *, projector, sample=None, seed=0):
    from core.objectives.lfr import build_lfr
    from core.projectors import projector_build

    return build_lfr(input_spec, dim, {**params, "seed": seed}, projector_build(projector, input_spec), sample=sample)


@hookimpl
def core_encoders():
    return [
        EncoderSpec("core/mlp", lazy("core.encoders:build_mlp"), ("vector", "sequence", "image"),
                    "flatten + MLP (Linear-BN-ReLU x2)"),
        EncoderSpec("core/conv", lazy("core.encoders:build_conv"), ("sequence", "image", "audio"),
                    "3 strided Conv-BN-ReLU blocks (1-D or 2-D) + global average pool"),
        EncoderSpec("core/tokens", lazy("core.encoders:build_tokens"), ("tokens",),
                    "token embedding + 1-D convolutions + masked mean pool"),
    ]


@hookimpl
def core_projectors():
    return [
        ProjectorSpec("core/mlp", _bank("mlp"), ("vector", "sequence", "image"), "random MLP bank"),
        ProjectorSpec("core/conv1d", _bank("conv1d"), ("sequence", "audio"), "random Conv1d bank"),
        ProjectorSpec("core/conv2d", _bank("conv2d"), ("image",), "random Conv2d bank"),
        ProjectorSpec("core/tokens", _bank("tokens"), ("tokens",), "random token embedding + Conv1d bank"),
    ]


@hookimpl
def core_objectives():
    return [ObjectiveSpec("core/lfr", _build_lfr,
                          "learning from randomness: predict K frozen random projections (Sui et al. 2023)",
                          sample_size=lazy("core.objectives.lfr:sample_size")),
            ObjectiveSpec("core/autoencoder", lazy("core.objectives.autoencoder:build_autoencoder"),
                          "reconstruct the input: MLP / transposed-conv / token-classifier decoder by input kind",
                          modalities=("vector", "sequence", "image", "tokens", "audio")),
            ObjectiveSpec("core/diet", lazy("core.objectives.diet:build_diet"),
                          "datum index as target: N-way classification with label smoothing (Balestriero 2023)"),
            ObjectiveSpec("core/simclr", lazy("core.objectives.simclr:build_simclr"),
                          "contrastive NT-Xent on two augmented views; needs core_augmentations (Chen et al. 2020)"),
            ObjectiveSpec("core/simsiam", lazy("core.objectives.simsiam:build_simsiam"),
                          "stop-gradient siamese prediction of augmented views; needs core_augmentations "
                          "(Chen & He 2021)"),
            ObjectiveSpec("core/supervised", lazy("core.objectives.supervised:build_supervised"),
                          "upper reference: the task's loss on the train split's labels", needs_labels=True)]


@hookimpl
def core_evaluators():
    from core.probes import builtin_evaluators

    return builtin_evaluators()
