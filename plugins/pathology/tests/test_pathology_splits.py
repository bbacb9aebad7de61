"""Splits: whole slides (or whole spatial blocks) never straddle train / val / test."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core_pathology import splits


def test_by_slide_keeps_every_slide_in_one_split(rng):
    slides = rng.choice([f"slide{i}" for i in range(12)], size=600)
    parts = splits.by_slide(slides, 0.2, 0.2, seed=3)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(600))
    owner = {}
    for name, idx in parts.items():
        assert len(idx)
        for s in set(slides[idx]):
            assert owner.setdefault(s, name) == name, f"{s} is in {owner[s]} and {name}"
    assert abs(len(parts["test"]) / 600 - 0.2) < 0.12
    again = splits.by_slide(slides, 0.2, 0.2, seed=3)
    assert all(np.array_equal(parts[s], again[s]) for s in parts)
    other = splits.by_slide(slides, 0.2, 0.2, seed=4)
    assert any(not np.array_equal(parts[s], other[s]) for s in parts)
    with pytest.raises(UserError, match="splitting by slides needs at least 3.*add slides"):
        splits.by_slide(["a", "a", "b"], 0.2, 0.2, seed=0)


def test_spatial_blocks_do_not_straddle_splits():
    ys, xs = np.meshgrid(np.arange(16) * 64, np.arange(12) * 64, indexing="ij")
    slides = np.array(["a"] * ys.size)
    blocks = splits.spatial_blocks(slides, xs.ravel(), ys.ravel(), np.full(ys.size, 64), block_tiles=4)
    assert len(set(blocks)) == 4 * 3
    parts = splits.by_blocks_within_slides(slides, blocks, 0.2, 0.2, seed=0)
    seen = {}
    for name, idx in parts.items():
        assert len(idx)
        for b in set(blocks[idx]):
            assert seen.setdefault(b, name) == name


def test_manifest_with_slide_ids_is_split_by_slide(tmp_path):
    from core_pathology.datasets import load_files
    from core_pathology.synthetic import tile_image, write_manifest
    from PIL import Image

    rows = []
    for i in range(60):
        kind = ("background", "tissue")[i % 2]
        Image.fromarray(tile_image(kind, 16, i)).save(tmp_path / f"t{i}.png")
        rows.append((f"t{i}.png", kind, f"case{i % 6}"))
    data = load_files(str(write_manifest(tmp_path / "tiles.csv", rows)), seed=1)
    slide_of = {s: set(data.splits[s].metadata()["slide_id"]) for s in ("train", "val", "test")}
    assert not slide_of["train"] & slide_of["val"] and not slide_of["train"] & slide_of["test"]
    assert not slide_of["val"] & slide_of["test"]
    assert set().union(*slide_of.values()) == {f"case{i}" for i in range(6)}
    assert "by slide" in data.source and data.task.kind == "binary"
    assert set(data.splits["pretrain"].ids).isdisjoint(data.splits["test"].ids)
