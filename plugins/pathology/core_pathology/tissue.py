"""Tissue detection: Otsu's threshold on the HSV saturation of a low-resolution view.

Stained tissue is coloured (saturated), glass and background are grey-white. The standard
step of slide pipelines (e.g. CLAM, Lu et al. 2021): saturation of the thumbnail, a median
filter against noise, then a global Otsu (1979) threshold, floored by ``min_saturation`` so
that a blank slide is not split into "tissue" by noise.
"""
from __future__ import annotations

import numpy as np

MIN_SATURATION = 0.05  # saturation never counted as tissue, whatever Otsu says (on [0, 1])


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation in [0, 1] of an ``(..., 3)`` uint8 RGB image (scikit-image's rgb2hsv)."""
    from skimage.color import rgb2hsv

    return rgb2hsv(np.asarray(rgb)).astype(np.float32)[..., 1]


def otsu_threshold(sat: np.ndarray, min_saturation: float = MIN_SATURATION) -> float:
    """Otsu's threshold on saturation values, never below ``min_saturation``."""
    from skimage.filters import threshold_otsu

    values = np.asarray(sat, dtype=np.float32).ravel()
    if values.size == 0 or float(values.max()) - float(values.min()) < 1e-6:
        return float(max(min_saturation, float(values.max()) if values.size else 0.0))
    return float(max(threshold_otsu(values), min_saturation))


def tissue_mask(rgb: np.ndarray, min_saturation: float = MIN_SATURATION, median: int = 3) -> np.ndarray:
    """Boolean tissue mask of an RGB thumbnail ``(h, w, 3)``: median-filtered saturation > Otsu."""
    from skimage.filters import median as median_filter
    from skimage.morphology import disk

    sat = saturation(rgb)
    if median > 0:
        sat8 = median_filter(np.round(sat * 255).astype(np.uint8), disk(median))
        sat = sat8.astype(np.float32) / 255
    return sat > otsu_threshold(sat, min_saturation)
