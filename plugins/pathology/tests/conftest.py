"""Fixtures writing small pathology inputs in the real formats (writers in core_pathology.synthetic)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core_pathology.synthetic import tissue_pixels, write_image_pyramid, write_pyramid

torch.set_num_threads(1)  # tiny models: threads only contend


@pytest.fixture
def pyramid(tmp_path):
    """A 3-level 2048 x 1536 tiled TIFF (0.5 um/px at level 0), tissue in two boxes."""
    boxes = [(256, 256, 768, 1024), (1280, 512, 1792, 1024)]  # (y0, x0, y1, x1), level 0
    return write_pyramid(tmp_path / "slide.tif", 2048, 1536, tissue=boxes, tile=256, levels=3, mpp=0.5), boxes


@pytest.fixture
def image_pyramid(tmp_path):
    """A 3-level pyramid written from a known 300 x 400 image (for exact region checks)."""
    image = tissue_pixels((300, 400), seed=3)
    return write_image_pyramid(tmp_path / "image.tif", image, levels=3, tile=64), image


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: Hypothesis property tests of readers (`make fuzz` runs a long profile)")
