"""Preprocessing of tiles with MONAI transforms (deterministic; never augmentation).

uint8 RGB ``(3, h, w)`` -> [resize to the tile size (``Resize``, area)] -> [optional Macenko
stain normalisation, ``monai.apps.pathology.transforms.NormalizeHEStains`` (Macenko et al.
2009) to MONAI's reference H&E stain matrix] -> ``ScaleIntensityRange`` 0..255 -> -1..1, float32.

A tile Macenko cannot normalise (too little stain: background, glass) is left as it is, the
usual practice of slide pipelines; :attr:`Preprocess.unnormalised` counts them.
"""
from __future__ import annotations

import numpy as np
import torch

STAIN_NORMS = ("none", "macenko")


class Preprocess:
    """Callable ``uint8 (3, h, w) -> float32 tensor (3, size, size)`` (module docstring)."""

    def __init__(self, tile_size: int, stain_norm: str = "none"):
        from monai.transforms import Resize, ScaleIntensityRange

        if stain_norm not in STAIN_NORMS:
            from core.errors import UserError

            raise UserError(f"option stain_norm={stain_norm!r} must be one of {', '.join(STAIN_NORMS)}")
        self.tile_size = int(tile_size)
        self.resize = Resize((self.tile_size, self.tile_size), mode="area")
        self.scale = ScaleIntensityRange(a_min=0.0, a_max=255.0, b_min=-1.0, b_max=1.0, clip=True)
        self.stain = None
        if stain_norm == "macenko":
            from monai.apps.pathology.transforms import NormalizeHEStains

            self.stain = NormalizeHEStains()
        self.unnormalised = 0

    def pixels(self, chw: np.ndarray) -> np.ndarray:
        """Resized (and stain-normalised) uint8 ``(3, size, size)``: the tile the encoder sees."""
        chw = np.asarray(chw)
        if chw.shape[1:] != (self.tile_size, self.tile_size):
            chw = np.clip(np.round(np.asarray(self.resize(chw.astype(np.float32)))), 0, 255).astype(np.uint8)
        if self.stain is not None:
            try:
                chw = np.moveaxis(self.stain(np.ascontiguousarray(np.moveaxis(chw, 0, -1))), -1, 0)
            except (ValueError, np.linalg.LinAlgError):
                self.unnormalised += 1
        return np.ascontiguousarray(chw, dtype=np.uint8)

    def tensor(self, chw_uint8: np.ndarray) -> torch.Tensor:
        """Scaled float32 tensor of an already prepared uint8 tile."""
        out = self.scale(np.asarray(chw_uint8, dtype=np.float32))  # numpy in, numpy out (no MetaTensor)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))

    def __call__(self, chw: np.ndarray) -> torch.Tensor:
        return self.tensor(self.pixels(chw))
