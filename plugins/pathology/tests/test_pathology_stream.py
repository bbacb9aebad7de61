"""The pathology stream (``core_pathology.stream``) behind ``core prepare --plugin pathology``: shards
give the tiles, labels, splits and model inputs the in-memory reader gives; slide tiles are
stored as coordinates and read from the slide when used."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from core.errors import UserError
from core.prepare import prepare
from core.runs import open_prepared as opened
from core.testing import TINY_RUN_ARGS as TINY, assert_prepared_runs
from core.testing import isolated_plugin_manager, paired_splits
from core.testing import run_cli as core_run_cli
from core_pathology import plugin
from core_pathology.datasets import load_files
from core_pathology.synthetic import tile_image, write_tile_folder

pytest.importorskip("litdata")

SLIDE = {"level": "1", "tile_size": "32"}  # the conftest pyramid at level 1: 160 tiles of 32 px


@pytest.fixture
def pm():
    return isolated_plugin_manager(("pathology", plugin))


def same(shards, memory, splits=("train", "val", "test", "pretrain")):
    """Ids, targets, model inputs, raw floor and ``core embed`` columns agree."""
    for name, a, b in paired_splits(shards, memory, splits):
        if b.targets is not None:
            assert np.allclose(a.targets, b.targets, atol=1e-6), name
        x = np.stack([a[i][0].numpy() for i in range(len(a))])
        assert np.array_equal(x, np.stack([b[i][0].numpy() for i in range(len(b))])), name
        assert np.array_equal(a.raw_features(), b.raw_features()) and a.metadata() == b.metadata(), name
        assert len(a.global_index) == len(a) and len(a.records) == len(shards.splits["pretrain"].records), name


def chunk_bytes(folder):
    return sum(p.stat().st_size for p in folder.glob("chunk-*.bin"))


def test_labelled_tile_folder_stores_prepared_pixels(tmp_path, pm):
    tiles = write_tile_folder(tmp_path / "tiles", per_class=8, size=32, slides=4)
    options = {"slide_pattern": r"^(s\d+)_"}  # split by slide, as in memory
    prepare(pm, plugin="pathology", data=tiles, out=tmp_path / "s", options=options, num_workers=2)
    shards = opened(pm, tmp_path / "s")
    same(shards, load_files(str(tiles), options=options))
    slides = [set(shards.splits[s].metadata()["slide_id"]) for s in ("train", "val", "test")]
    assert not (slides[0] & slides[1] or slides[0] & slides[2] or slides[1] & slides[2])


def test_labelled_slide_stores_coordinates_and_derived_targets(tmp_path, pm, pyramid):
    slide, _ = pyramid
    meta = prepare(pm, plugin="pathology", data=slide, out=tmp_path / "s", options=SLIDE, num_workers=2)
    shards, memory = opened(pm, tmp_path / "s"), load_files(str(slide), options=SLIDE)
    assert shards.task.kind == "regression" and meta["num_samples"] == 160
    same(shards, memory)
    assert chunk_bytes(tmp_path / "s") < meta["num_samples"] * 3 * 32 * 32 / 4  # coordinates, not pixels


def test_unlabelled_slide_and_flat_tile_folder(tmp_path, pm, pyramid):
    slide, _ = pyramid
    prepare(pm, plugin="pathology", data=slide, out=tmp_path / "s", options=SLIDE, unlabelled=True)
    same(opened(pm, tmp_path / "s", unlabelled=True), load_files(str(slide), options=SLIDE, unlabelled=True),
         ("pretrain",))
    classes = write_tile_folder(tmp_path / "classes", per_class=6, size=32)
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in sorted(classes.rglob("*.png")):
        shutil.copy(p, flat / p.name)
    meta = prepare(pm, plugin="pathology", data=flat, out=tmp_path / "t", unlabelled=True, options={"tile_size": "16"})
    assert meta["task"] is None and meta["splits"] == {"pretrain": 12}
    same(opened(pm, tmp_path / "t", unlabelled=True),
         load_files(str(flat), unlabelled=True, options={"tile_size": "16"}), ("pretrain",))


def test_bad_tiles_stop_or_are_listed(tmp_path, pm):
    from PIL import Image

    tiles = write_tile_folder(tmp_path / "tiles", per_class=8, size=32)
    (tmp_path / "tiles" / "tissue" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\njunk")
    Image.fromarray(tile_image("tissue", 24, seed=5)).save(tmp_path / "tiles" / "tissue" / "small.png")
    (tmp_path / "tiles" / "notes.txt").write_text("not a tile")
    with pytest.raises(UserError, match=r"broken\.png: cannot decode the image.*--on-bad-record skip"):
        prepare(pm, plugin="pathology", data=tiles, out=tmp_path / "failed")
    meta = prepare(pm, plugin="pathology", data=tiles, out=tmp_path / "s", on_bad_record="skip")
    reasons = {where.rsplit("/", 1)[-1]: why for where, why in meta["skipped"]}
    assert set(reasons) == {"broken.png", "small.png", "notes.txt"} and meta["num_samples"] == 16
    assert "24x24 px but the other tiles" in reasons["small.png"] and "not a tile image" in reasons["notes.txt"]
    same(opened(pm, tmp_path / "s"), load_files(str(tiles), on_bad_record="skip"))
    with pytest.raises(UserError, match="prepare it with --unlabelled"):
        flat = tmp_path / "flat"
        flat.mkdir()
        shutil.copy(tmp_path / "tiles" / "tissue" / "tissue0.png", flat / "a.png")
        prepare(pm, plugin="pathology", data=flat, out=tmp_path / "f")


def cli(*args):
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=600)


def test_cli_prepare_then_pretrain_on_shards_and_run_on_slide_shards(tmp_path, pyramid):
    labelled = write_tile_folder(tmp_path / "labelled", per_class=12, size=32)
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    from PIL import Image

    for i in range(10):
        Image.fromarray(tile_image(("tissue", "background")[i % 2], 32, seed=500 + i)).save(unlabelled / f"u{i}.png")
    slide, _ = pyramid  # labelled shards of slide coordinates: pixels read from the slide while training
    _, metrics = assert_prepared_runs("pathology", unlabelled, labelled, tmp_path, unlabelled_size=10, cli=cli,
                                      labelled_raw=slide, prepare_args=["--level", "1", "--tile-size", "32"],
                                      run_args=TINY)
    assert [metrics["dataset"]["sizes"][s] for s in ("train", "val", "test")] == [96, 32, 32]
