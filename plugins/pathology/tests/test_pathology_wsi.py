"""Whole-slide reading through MONAI's reader API: levels, resolution, lazy exact regions."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core_pathology import wsi
from core_pathology.wsi import TiffFileRegionReader, open_slide, read_region, thumbnail


def test_levels_sizes_and_mpp(image_pyramid):
    path, image = image_pyramid
    slide = open_slide(path, backend="tifffile")
    assert isinstance(slide.reader, TiffFileRegionReader)
    assert slide.levels == 3
    assert [slide.size(lv) for lv in range(3)] == [(300, 400), (150, 200), (75, 100)]
    assert [slide.downsample(lv) for lv in range(3)] == [1.0, 2.0, 4.0]
    assert slide.mpp(0) == pytest.approx(0.5) and slide.mpp(2) == pytest.approx(2.0)


def test_regions_equal_the_image_at_every_level(image_pyramid):
    path, image = image_pyramid
    slide = open_slide(path, backend="tifffile")
    for top, left, size in ((0, 0, 64), (37, 101, 50), (250, 350, 50), (290, 390, 20)):
        patch = np.moveaxis(slide.region(top, left, size, 0), 0, -1)
        expected = np.zeros((size, size, 3), np.uint8)  # outside the image: zeros
        part = image[top:top + size, left:left + size]
        expected[:part.shape[0], :part.shape[1]] = part
        assert np.array_equal(patch, expected), (top, left, size)
    level1 = image[:300, :400].reshape(150, 2, 200, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    # (top, left) are level-0 pixels, the size is in level-1 pixels (MONAI's convention)
    assert np.array_equal(np.moveaxis(slide.region(40, 60, 32, 1), 0, -1), level1[20:52, 30:62])


def test_a_region_decodes_only_the_tiles_it_touches(image_pyramid, monkeypatch):
    path, image = image_pyramid
    slide = open_slide(path, backend="tifffile")
    page = slide.reader._pages(slide.wsi)[0]
    calls = []
    real = page.decode  # tifffile's decoder (a cached property): wrap it on this page to count calls
    monkeypatch.setitem(page.__dict__, "decode", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    out = read_region(page, 10, 10, 40, 40)  # inside tile 0 (64 x 64 tiles)
    assert calls == [0] and np.array_equal(out, image[10:50, 10:50])
    calls.clear()
    read_region(page, 60, 60, 10, 10)  # straddles 4 tiles of a 7-tile-wide grid
    assert sorted(calls) == [0, 1, 7, 8]


def test_thumbnail_by_regions_when_no_level_is_small_enough(image_pyramid):
    path, image = image_pyramid
    slide = open_slide(path, backend="tifffile")
    thumb, ds = thumbnail(slide, max_side=120)  # level 2 (100 px) fits
    assert thumb.shape == (75, 100, 3) and ds == 4.0
    thumb, ds = thumbnail(slide, max_side=40)  # none fits: level 2 reduced 3x by block means
    assert thumb.shape == (25, 33, 3) and ds == 12.0


def test_unreadable_slide_is_a_user_error(tmp_path):
    bad = tmp_path / "broken.svs"
    bad.write_bytes(b"II*\x00not really a tiff")
    with pytest.raises(UserError, match="broken.svs: cannot read as a whole-slide image"):
        open_slide(bad, backend="tifffile")
    with pytest.raises(UserError, match="backend"):
        wsi.make_reader("cucim")
