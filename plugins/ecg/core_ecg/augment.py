"""Time-series augmentations for ECG (``core_augmentations``), used only by the
augmentation-based baselines of ``core bench`` (SimCLR, SimSiam); LFR never augments.

Each ``build_*(input_spec)`` returns a transform of a batch ``(B, C, L)`` that draws an
independent transformation per sample from torch's global generator (seeded per run). Inputs
are standardised per lead by the readers, so magnitudes are in units of the lead's std.

* crop: random resized crop, a window of 60–100 % of the beat stretched back to ``L`` by linear
  interpolation (a time warp that keeps the shape; Mehari & Strodthoff 2022 found random
  resized crops the best single ECG augmentation for SimCLR-style training);
* scaling: per-sample, per-lead amplitude factor ~ N(1, 0.2²) (TS-TCC's weak augmentation,
  Eldele et al. 2021);
* jitter: additive Gaussian noise, σ = 0.1 (TS-TCC's jitter).

References: E. Eldele et al., "Time-Series Representation Learning via Temporal and Contextual
Contrasting", IJCAI 2021; T. Mehari, N. Strodthoff, "Self-supervised representation learning
from 12-lead ECG data", Computers in Biology and Medicine 2022.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CROP_RANGE = (0.6, 1.0)
SCALE_SIGMA = 0.2
JITTER_SIGMA = 0.1


def random_resized_crop(x: torch.Tensor, low: float = CROP_RANGE[0], high: float = CROP_RANGE[1]) -> torch.Tensor:
    """Per sample: a window of a uniform fraction in ``[low, high]`` of the length at a uniform
    position, resampled to the full length (linear interpolation). ``x (B, C, L)``."""
    b, _, length = x.shape
    dtype = x.dtype if x.is_floating_point() else torch.float32
    frac = torch.empty(b, 1, device=x.device).uniform_(low, high)
    start = torch.rand(b, 1, device=x.device) * (1 - frac)
    pos = start + frac * torch.linspace(0, 1, length, device=x.device)  # (B, L) in [0, 1]
    grid = torch.stack([pos * 2 - 1, torch.zeros_like(pos)], dim=-1).unsqueeze(1)  # (B, 1, L, 2)
    out = F.grid_sample(x.to(torch.float32).unsqueeze(2), grid.to(torch.float32), mode="bilinear",
                        padding_mode="border", align_corners=True)
    return out.squeeze(2).to(dtype)


def scaling(x: torch.Tensor, sigma: float = SCALE_SIGMA) -> torch.Tensor:
    """Multiply each sample's leads by factors ~ N(1, sigma²). ``x (B, C, L)``."""
    return x * (1 + sigma * torch.randn(x.shape[0], x.shape[1], 1, device=x.device, dtype=x.dtype))


def jitter(x: torch.Tensor, sigma: float = JITTER_SIGMA) -> torch.Tensor:
    """Add Gaussian noise of std ``sigma``. ``x (B, C, L)``."""
    return x + sigma * torch.randn_like(x)


def _check(input_spec, name):
    if input_spec.modality != "sequence" or len(input_spec.shape) != 2:
        raise ValueError(f"{name} needs (channels, length) sequences, got {input_spec.modality} {input_spec.shape}")


def build_crop(input_spec):
    _check(input_spec, "ecg/crop")
    return random_resized_crop


def build_scaling(input_spec):
    _check(input_spec, "ecg/scaling")
    return scaling


def build_jitter(input_spec):
    _check(input_spec, "ecg/jitter")
    return jitter
