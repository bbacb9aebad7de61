"""Autoencoder baseline: reconstruct the raw input from the embedding through a decoder.

The encoder f gives z = f(x) ``(B, D)``; a decoder g (trained with it) maps z back to the
input and the loss is the reconstruction error. The decoder follows the input kind:

* vectors (``(F,)``): an MLP mirroring :class:`core.encoders.MLPEncoder`, MSE;
* sequences/audio ``(C, L)`` and images ``(C, H, W)``: a linear map to a small feature map,
  then stride-2 transposed convolutions (1-D or 2-D) doubling the size, cropped to the input
  size, MSE;
* tokens ``(L,)``: the same 1-D transposed-conv decoder with ``vocab_size`` output channels,
  i.e. a per-position token classifier, cross-entropy ignoring padding (id 0).

References: Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural
networks", Science 2006 (the autoencoder); used as an augmentation-free baseline by Sui et al.,
"Self-supervised representation learning from random data projectors", ICLR 2024 (LFR).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from core.objectives.base import Objective, check_choice, check_int, config_from_params

__all__ = ["AutoencoderConfig", "MLPDecoder", "ConvTransposeDecoder", "reconstruction_loss",
           "token_reconstruction_loss", "build_decoder", "Autoencoder", "build_autoencoder"]

DECODERS = ("auto", "mlp", "conv")


@dataclass(frozen=True)
class AutoencoderConfig:
    """decoder: ``auto`` (by input kind, see module doc), ``mlp`` or ``conv``.
    hidden: MLP decoder width (256, as :class:`core.encoders.MLPEncoder`).
    widths: transposed-conv channels from the first feature map on (128, 64, 32), one stride-2
    layer each, mirroring :class:`core.encoders.ConvEncoder`; fewer layers for short inputs.
    """

    decoder: str = "auto"
    hidden: int = 256
    widths: tuple = (128, 64, 32)

    def __post_init__(self):
        check_choice("autoencoder", "decoder", self.decoder, DECODERS)
        check_int("autoencoder", "hidden", self.hidden)
        widths = tuple(self.widths) if isinstance(self.widths, (list, tuple)) else (self.widths,)
        for w in widths:
            check_int("autoencoder", "widths entry", w)
        object.__setattr__(self, "widths", widths)


# ------------------------------------------------------------------------ losses
def reconstruction_loss(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error between a reconstruction and the input (same shape), in float32."""
    if recon.shape != x.shape:
        raise ValueError(f"reconstruction {tuple(recon.shape)} and input {tuple(x.shape)} differ in shape")
    return F.mse_loss(recon.float(), x.float())


def token_reconstruction_loss(logits: torch.Tensor, tokens: torch.Tensor, padding_id: int = 0) -> torch.Tensor:
    """Cross-entropy of per-position logits ``(B, V, L)`` against token ids ``(B, L)``, padding ignored."""
    return F.cross_entropy(logits.float(), tokens.long(), ignore_index=padding_id)


# ---------------------------------------------------------------------- decoders
class MLPDecoder(nn.Module):
    """``Linear-BN-ReLU`` x2 then ``Linear`` to ``prod(shape)``, reshaped to ``shape``."""

    def __init__(self, dim: int, shape: tuple, hidden: int = 256):
        super().__init__()
        self.shape = tuple(shape)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                 nn.Linear(hidden, math.prod(self.shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(len(z), *self.shape)


class ConvTransposeDecoder(nn.Module):
    """``Linear`` to ``widths[0]`` channels at ``size / 2^n``, then ``n`` stride-2
    ``ConvTranspose(k=4, p=1)`` layers (BN-ReLU between) to ``out_channels``, cropped to ``size``.

    ``size`` is ``(L,)`` (1-D) or ``(H, W)`` (2-D); ``n = min(len(widths), floor(log2(min(size))))``.
    """

    def __init__(self, dim: int, out_channels: int, size: tuple, widths=(128, 64, 32)):
        super().__init__()
        self.size, self.out_channels = tuple(int(s) for s in size), out_channels
        spatial = len(self.size)
        if spatial not in (1, 2):
            raise ValueError(f"ConvTransposeDecoder needs a 1-D or 2-D size, got {self.size}")
        n = min(len(widths), int(math.log2(max(min(self.size), 1))))
        widths = list(widths[:max(n, 1)])
        self.start = tuple(-(-s // 2 ** n) for s in self.size)
        self.stem = nn.Linear(dim, widths[0] * math.prod(self.start))
        conv = nn.ConvTranspose1d if spatial == 1 else nn.ConvTranspose2d
        norm = nn.BatchNorm1d if spatial == 1 else nn.BatchNorm2d
        layers, c = [norm(widths[0]), nn.ReLU()], widths[0]
        for i in range(n):
            last = i == n - 1
            out = out_channels if last else widths[i + 1]
            layers.append(conv(c, out, 4, stride=2, padding=1))
            if not last:
                layers += [norm(out), nn.ReLU()]
            c = out
        if n == 0:
            layers.append((nn.Conv1d if spatial == 1 else nn.Conv2d)(c, out_channels, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.net(self.stem(z).view(len(z), -1, *self.start))
        if len(self.size) == 1:
            return h[..., : self.size[0]]
        return h[..., : self.size[0], : self.size[1]]


def build_decoder(input_spec, dim: int, cfg: AutoencoderConfig) -> tuple[nn.Module, str]:
    """The decoder for ``input_spec`` and its loss kind (``"mse"`` or ``"tokens"``)."""
    shape, modality = tuple(input_spec.shape), input_spec.modality
    if modality == "tokens":
        if len(shape) != 1:
            raise ValueError(f"autoencoder: token inputs must be (L,), got {shape}")
        return ConvTransposeDecoder(dim, int(input_spec.vocab_size), shape, cfg.widths), "tokens"
    if modality == "graph":
        raise ValueError("autoencoder has no decoder for graph inputs; featurise them as vectors or tokens")
    use_conv = cfg.decoder == "conv" or (cfg.decoder == "auto" and len(shape) in (2, 3))
    if use_conv:
        if len(shape) not in (2, 3):
            raise ValueError(f"autoencoder decoder=conv needs (C, L) or (C, H, W) inputs, got {shape}")
        return ConvTransposeDecoder(dim, shape[0], shape[1:], cfg.widths), "mse"
    return MLPDecoder(dim, shape, cfg.hidden), "mse"


# ------------------------------------------------------------------------- module
class Autoencoder(Objective):
    """The autoencoder objective: ``encoder_loss = loss(decoder(z), x)``; the decoder trains
    with the encoder (``encoder_phase_parameters``); no inner phase."""

    def __init__(self, input_spec, dim: int, config: AutoencoderConfig):
        super().__init__()
        self.config, self.dim = config, dim
        self.decoder, self.kind = build_decoder(input_spec, dim, config)

    def encoder_loss(self, z: torch.Tensor, x, index) -> torch.Tensor:
        out = self.decoder(z)
        if self.kind == "tokens":
            return token_reconstruction_loss(out, x)
        return reconstruction_loss(out, x)


def build_autoencoder(input_spec, dim: int, params: Optional[dict] = None, **_) -> Autoencoder:
    """Factory for :class:`core.specs.ObjectiveSpec`: config from ``params``, decoder by input kind."""
    return Autoencoder(input_spec, dim, config_from_params(AutoencoderConfig, params, "autoencoder"))
