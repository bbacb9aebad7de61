"""Labels derived from pixels by standard pipeline steps (no package ships labelled patches).

* ``tissue_fraction``: share of the tile's pixels whose HSV saturation exceeds the slide's
  Otsu threshold (:mod:`core_pathology.tissue`); a tile is "tissue" when it is >= 0.5.
* ``haematoxylin`` and ``dab``: mean optical density of the haematoxylin and DAB channels
  after colour deconvolution (Ruifrok & Johnston 2001, ``skimage.color.rgb2hed``).
"""
from __future__ import annotations

import numpy as np

from core_pathology.tissue import otsu_threshold, saturation

TARGETS = ("tissue_fraction", "haematoxylin", "dab")
TISSUE_CUTOFF = 0.5


def stain_content(hwc: np.ndarray) -> np.ndarray:
    """``(N, h, w, 3)`` uint8 tiles -> ``(N, 2)`` mean haematoxylin and DAB densities."""
    from skimage.color import rgb2hed

    hwc = np.asarray(hwc)
    out = np.empty((len(hwc), 2), np.float32)
    for i, tile in enumerate(hwc):
        hed = rgb2hed(tile)
        out[i] = hed[..., 0].mean(), hed[..., 2].mean()
    return out


def derive(hwc: np.ndarray, slide_ids) -> np.ndarray:
    """``(N, 3)`` targets (tissue fraction, haematoxylin, DAB) for tiles of one or more slides;
    the Otsu threshold is computed per slide over all of that slide's tile pixels."""
    hwc = np.asarray(hwc)
    slide_ids = np.asarray(slide_ids)
    y = np.empty((len(hwc), 3), np.float32)
    for slide in np.unique(slide_ids):
        rows = np.flatnonzero(slide_ids == slide)
        sats = saturation(hwc[rows])
        y[rows, 0] = (sats > otsu_threshold(sats)).mean(axis=(1, 2))
    y[:, 1:] = stain_content(hwc)
    return y
