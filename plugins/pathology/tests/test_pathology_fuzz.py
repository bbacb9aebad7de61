"""Fuzzing every pathology reader (issue 15, item 7): a damaged file in place of a valid one
makes the dataset factory return a dataset or raise one-line :class:`core.errors.UserError`,
never anything else, within a time bound; under ``--on-bad-record error`` and ``skip``.

Short profile (25 examples per property) in ``make test``; ``make fuzz`` runs 500.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.testing import assert_fails_cleanly, damaged_bytes, fuzz_examples, junk_text
from core_pathology import synthetic
from core_pathology.datasets import load_files
from core_pathology.readers import read_slide_labels, read_tiles

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=fuzz_examples(), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 20.0
TILE = 16


def _load_both_ways(path, what: str) -> None:
    for mode in ("error", "skip"):
        assert_fails_cleanly(lambda: load_files(path, seed=0, on_bad_record=mode), seconds=SECONDS,
                             what=f"{what} (on_bad_record={mode})")


def _seed_bytes(path) -> bytes:
    return path.read_bytes()


# -- tiles in class folders ------------------------------------------------------------------------
@pytest.fixture(params=[".png", ".jpg", ".tif"])
def tile_folder(request, tmp_path):
    root = synthetic.write_tile_folder(tmp_path / "tiles", per_class=6, size=TILE, suffix=request.param)
    victim = sorted((root / "tissue").iterdir())[0]
    assert load_files(root, seed=0).task.class_names == ("background", "tissue")  # the valid seed loads
    return root, victim, _seed_bytes(victim)


def test_damaged_tile_in_a_class_folder(tile_folder):
    root, victim, valid = tile_folder

    @FUZZ
    @given(data=damaged_bytes(valid))
    def check(data):
        victim.write_bytes(data)
        _load_both_ways(root, f"{victim} <- {data[:40]!r}")

    check()


def test_damaged_header_of_a_tile(tile_folder):
    """A few bytes overwritten in the first 64: width, height, bit depth, colour type, offsets."""
    root, victim, valid = tile_folder

    def overwrite(args):
        where, junk = args
        return valid[:where] + junk + valid[where + len(junk):]

    @FUZZ
    @given(data=st.tuples(st.integers(0, 64), st.binary(min_size=1, max_size=8)).map(overwrite))
    def check(data):
        victim.write_bytes(data)
        _load_both_ways(root, f"{victim} <- {data[:40]!r}")

    check()


# -- CSV manifests -----------------------------------------------------------------------------------
def test_damaged_manifest(tmp_path):
    root = synthetic.write_tile_folder(tmp_path / "tiles", per_class=6, size=TILE, slides=3)
    rows = [(p.relative_to(tmp_path).as_posix(), p.parent.name, p.stem.split("_")[0])
            for p in sorted(root.rglob("*.png"))]
    manifest = synthetic.write_manifest(tmp_path / "manifest.csv", rows)
    valid = _seed_bytes(manifest)
    assert len(load_files(manifest, seed=0).splits["pretrain"]) > 0

    @FUZZ
    @given(data=damaged_bytes(valid) | junk_text(valid))
    def check(data):
        manifest.write_bytes(data)
        _load_both_ways(manifest, f"manifest <- {data[:40]!r}")

    check()


# -- whole slides (small pyramidal TIFF) -----------------------------------------------------------
def test_damaged_slide(tmp_path):
    slide = synthetic.write_pyramid(tmp_path / "slide.tif", 384, 384, tissue=[(64, 64, 320, 256)], tile=64,
                                    levels=2)
    valid = _seed_bytes(slide)
    assert len(load_files(slide, seed=0, options={"tile_size": 32}).splits["train"]) > 0

    @FUZZ
    @given(data=damaged_bytes(valid, max_size=len(valid)))
    def check(data):
        slide.write_bytes(data)
        for mode in ("error", "skip"):
            assert_fails_cleanly(lambda: load_files(slide, seed=0, on_bad_record=mode, options={"tile_size": 32}),
                                 seconds=SECONDS, what=f"slide <- {data[:40]!r} ({mode})")

    check()


# -- `core slides`: the labels CSV and the tile embeddings ------------------------------------------
def test_damaged_slide_labels(tmp_path):
    labels = tmp_path / "slides.csv"
    labels.write_text("slide_id,label,split\ns0,tumour,train\ns1,normal,train\ns2,tumour,test\ns3,normal,val\n")
    valid = _seed_bytes(labels)

    @FUZZ
    @given(data=damaged_bytes(valid) | junk_text(valid))
    def check(data):
        labels.write_bytes(data)
        assert_fails_cleanly(lambda: read_slide_labels(labels), seconds=SECONDS, what=f"labels <- {data[:40]!r}")

    check()


def test_damaged_tile_embeddings(tmp_path):
    tiles = tmp_path / "tiles.npz"
    rng = np.random.default_rng(0)
    np.savez(tiles, embeddings=rng.normal(size=(8, 4)).astype(np.float32), slide_id=np.array(["s0", "s1"] * 4))
    valid = _seed_bytes(tiles)

    @FUZZ
    @given(data=damaged_bytes(valid))
    def check(data):
        tiles.write_bytes(data)
        assert_fails_cleanly(lambda: read_tiles(tiles), seconds=SECONDS, what=f"tiles <- {data[:40]!r}")

    check()
