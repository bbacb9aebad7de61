"""Tissue mask and tiling grid on a pyramid written with tifffile."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core_pathology import tiling, tissue
from core_pathology.wsi import open_slide, thumbnail


def _in_boxes(t, boxes, margin=0):
    return any(y0 - margin <= t.y and t.y + t.footprint <= y1 + margin and x0 - margin <= t.x and
               t.x + t.footprint <= x1 + margin for y0, x0, y1, x1 in boxes)


def test_tissue_mask_finds_the_written_boxes(pyramid):
    path, boxes = pyramid
    slide = open_slide(path, backend="tifffile")
    thumb, ds = thumbnail(slide, max_side=512)  # level 2: 512 x 384
    assert ds == 4.0 and thumb.shape == (512, 384, 3)
    mask = tissue.tissue_mask(thumb)
    truth = np.zeros(mask.shape, bool)
    for y0, x0, y1, x1 in boxes:
        truth[y0 // 4:y1 // 4, x0 // 4:x1 // 4] = True
    assert (mask == truth).mean() > 0.98
    assert tissue.tissue_mask(np.full((64, 64, 3), 240, np.uint8)).sum() == 0  # blank glass: no tissue


def test_grid_keeps_tissue_tiles_with_level0_coordinates(pyramid):
    path, boxes = pyramid
    slide = open_slide(path, backend="tifffile")
    thumb, ds = thumbnail(slide, max_side=512)
    mask = tissue.tissue_mask(thumb)
    res = tiling.choose_resolution(slide, 128)
    assert (res.level, res.read_size, res.downsample) == (0, 128, 1.0)
    tiles = tiling.grid(slide, "s", 128, res, mask=mask, mask_downsample=ds, min_tissue=0.5)
    # boxes are 512 x 768 and 512 x 512 at multiples of 128: exactly 4*6 + 4*4 tiles
    assert len(tiles) == 40
    assert all(_in_boxes(t, boxes) for t in tiles)
    assert all(t.x % 128 == 0 and t.y % 128 == 0 and t.level == 0 and t.footprint == 128 for t in tiles)
    assert len({(t.x, t.y) for t in tiles}) == 40 and min(t.tissue for t in tiles) > 0.9
    everything = tiling.grid(slide, "s", 128, res)  # no mask: the whole 12 x 16 grid
    assert len(everything) == 12 * 16 and everything[1].x == 128 and everything[12].y == 128
    overlapping = tiling.grid(slide, "s", 128, res, overlap=0.5)
    assert len(overlapping) == 23 * 31 and overlapping[1].x == 64
    # the pixels of a tile are the slide's at its coordinates
    t = tiles[5]
    assert slide.region(t.y, t.x, t.read_size, t.level).shape == (3, 128, 128)


def test_resolution_by_mpp_and_level(pyramid):
    path, _ = pyramid
    slide = open_slide(path, backend="tifffile")
    res = tiling.choose_resolution(slide, 64, mpp=1.0)  # level 1 exactly
    assert (res.level, res.read_size, res.downsample) == (1, 64, 2.0)
    res = tiling.choose_resolution(slide, 64, mpp=3.0)  # between levels 2 (2 um) and 3: read level 2, reduce
    assert (res.level, res.read_size, res.downsample) == (2, 96, 6.0)
    tiles = tiling.grid(slide, "s", 64, res)
    assert tiles[1].x == 384 and tiles[0].footprint == 384
    res = tiling.choose_resolution(slide, 64, level=2)
    assert (res.level, res.downsample) == (2, 4.0)
    with pytest.raises(UserError, match="levels 0..2"):
        tiling.choose_resolution(slide, 64, level=5)
    with pytest.raises(UserError, match="finer"):
        tiling.choose_resolution(slide, 64, mpp=0.25)
    with pytest.raises(UserError, match="pass only one"):
        tiling.choose_resolution(slide, 64, level=1, mpp=1.0)
    with pytest.raises(UserError, match="magnification"):
        tiling.choose_resolution(slide, 64, magnification=10)


def test_slide_dataset_reads_tiles_lazily_with_coordinates(pyramid):
    from core_pathology.datasets import load_files
    from core_pathology.labels import stain_content
    from core_pathology.synthetic import BACKGROUND
    from core_pathology.tileset import SlideSource

    path, boxes = pyramid
    data = load_files(str(path), options={"tile_size": 64, "mpp": 1.0, "thumbnail_size": 512})
    full = [data.splits[s] for s in ("train", "val", "test")]
    assert all(isinstance(s.source, SlideSource) for s in full)
    assert sum(len(s) for s in full) == 40  # 128-px level-0 footprints in the boxes, as above
    meta = {k: [v for s in full for v in s.metadata()[k]] for k in ("x", "y", "level", "footprint", "slide_id")}
    assert set(meta["level"]) == {1} and set(meta["footprint"]) == {128} and set(meta["slide_id"]) == {"slide"}
    x, y, i = full[0][0]
    assert x.shape == (3, 64, 64) and -1 <= float(x.min()) and float(x.max()) <= 1
    targets = full[0].targets  # derived lazily: tissue fraction, haematoxylin, DAB
    glass = stain_content(np.full((1, 64, 64, 3), BACKGROUND, np.uint8))[0]
    assert targets.shape == (len(full[0]), 3) and (targets[:, 0] > 0.9).all()
    assert (targets[:, 1] > glass[0] + 0.005).all()  # haematoxylin-stained nuclei, unlike glass
    assert "spatial blocks" in data.source and data.task.class_names == ("tissue_fraction", "haematoxylin", "dab")
