"""Nothing dropped or resized silently, and bounded costs (issue 15, items 4 and 5): files that
are not tiles are listed in skipped.csv, tiles break a size rule as bad records, a huge image is
refused from its header, a damaged slide before any pixel is decoded."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import BadRecord, UserError
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core.testing import run_cli as core_run_cli
from core_pathology.datasets import load_files
from core_pathology.readers import MAX_TILE_PIXELS, read_image
from core_pathology.synthetic import tile_image, write_pyramid, write_tile_folder
from core_pathology.wsi import MAX_SLIDE_SIDE


def run_cli(*args):
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=600)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(path, side: int) -> None:
    """A valid 1-bit ``side`` x ``side`` PNG of zeros, compressed row by row (a few hundred KB)."""
    row = b"\x00" * (1 + -(-side // 8))  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def _save(path, size: int, seed: int = 0):
    Image.fromarray(tile_image("tissue", size, seed)).save(path)


# -- in process ------------------------------------------------------------------------------------
def test_a_file_that_is_not_a_tile_is_listed_in_either_mode(tmp_path):
    tiles = write_tile_folder(tmp_path / "tiles", per_class=6, size=16)
    (tiles / "tissue" / "notes.txt").write_text("scanned on Monday")
    (tiles / "tissue" / ".DS_Store").write_bytes(b"\x00")  # hidden: ignored
    for mode in ("error", "skip"):
        data = load_files(tiles, seed=0, on_bad_record=mode)
        assert [r for r, _ in data.skipped] == [str(tiles / "tissue" / "notes.txt")]
        assert "not a tile image" in data.skipped[0][1]
        assert sum(len(data.splits[s]) for s in ("train", "val", "test")) == 12


def test_a_tile_of_another_size_is_a_bad_record_not_resized(tmp_path):
    tiles = write_tile_folder(tmp_path / "tiles", per_class=6, size=32)
    _save(tiles / "tissue" / "small.png", 16)
    with pytest.raises(BadRecord, match=r"small.png.*is 16x16 px but the other tiles .* are 32x32.*--tile-size N"):
        load_files(tiles, seed=0)
    data = load_files(tiles, seed=0, on_bad_record="skip")
    assert [r for r, _ in data.skipped] == [str(tiles / "tissue" / "small.png")]
    assert data.input_spec.shape == (3, 32, 32)
    resized = load_files(tiles, seed=0, options={"tile_size": 24})  # asked for: every tile resized
    assert resized.input_spec.shape == (3, 24, 24) and not resized.skipped


def test_tiles_below_the_minimum_size_are_refused(tmp_path):
    tiles = write_tile_folder(tmp_path / "tiles", per_class=6, size=32)
    _save(tiles / "tissue" / "dot.png", 1)
    with pytest.raises(BadRecord, match=r"dot.png.*too small \(1x1 px; a tile needs at least 8x8\)"):
        load_files(tiles, seed=0, options={"tile_size": 32})  # even when resizing is asked for
    tiny = write_tile_folder(tmp_path / "tiny", per_class=4, size=1)
    with pytest.raises(UserError, match=r"no readable tile; first problem: .*too small \(1x1 px"):
        load_files(tiny, seed=0, on_bad_record="skip")


def test_a_huge_image_is_refused_from_its_header(tmp_path):
    big = tmp_path / "big.png"
    huge_png(big, 50_000)  # 2.5 gigapixels; decoding it would take 2.5 GB
    with pytest.raises(ValueError, match=rf"2500000000 pixels, over the limit of {MAX_TILE_PIXELS} for a tile"):
        read_image(big)
    over = tmp_path / "over.png"
    Image.new("1", (4097, 4097)).save(over)  # just over the documented limit, under Pillow's bomb guard
    with pytest.raises(ValueError, match=rf"4097x4097 pixels, over the limit of {MAX_TILE_PIXELS}"):
        read_image(over)
    tif = tmp_path / "over.tif"
    import tifffile

    tifffile.imwrite(tif, np.zeros((4097, 4097), np.uint8))
    with pytest.raises(ValueError, match="4097x4097 pixels, over the limit"):
        read_image(tif)


def test_a_slide_declaring_an_absurd_size_is_refused_before_decoding(tmp_path):
    import tifffile

    slide = write_pyramid(tmp_path / "s.tif", 256, 256, tissue=[(64, 64, 192, 192)], tile=64, levels=2)
    with tifffile.TiffFile(slide) as tif:
        tag = tif.pages[0].tags["ImageWidth"]
        where = tag.valueoffset
    data = bytearray(slide.read_bytes())
    data[where:where + 4] = struct.pack("<I", 4_000_000)  # level 0 claims 4 million pixels across
    slide.write_bytes(bytes(data))
    with pytest.raises(BadRecord, match=rf"level 0 \(4000000x256\): size outside 1..{MAX_SLIDE_SIDE}"):
        load_files(slide, seed=0)
    truncated = write_pyramid(tmp_path / "t.tif", 256, 256, tissue=[(64, 64, 192, 192)], tile=64, levels=2)
    truncated.write_bytes(truncated.read_bytes()[:-3000])
    with pytest.raises(BadRecord, match="t.tif: "):
        load_files(truncated, seed=0)
    with pytest.raises(UserError, match="no readable slide; first problem: .*t.tif: "):
        load_files(truncated, seed=0, on_bad_record="skip")  # the only slide skipped: nothing left


# -- the real CLI ----------------------------------------------------------------------------------
def test_cli_lists_what_it_does_not_read_and_skips_a_tiny_tile(tmp_path):
    tiles = write_tile_folder(tmp_path / "tiles", per_class=8, size=32)
    (tiles / "tissue" / "notes.txt").write_text("not a tile")
    _save(tiles / "background" / "dot.png", 1)
    assert_user_error(run_cli("run", "--plugin", "pathology", "--data", tiles, "--out", tmp_path / "no", *TINY),
                      "dot.png", "too small (1x1 px", "--on-bad-record skip")
    out = tmp_path / "runs"
    assert_ok(run_cli("run", "--plugin", "pathology", "--data", tiles, "--on-bad-record", "skip", "--out", out, *TINY))
    skipped = (only_run_dir(out) / "skipped.csv").read_text()
    assert "notes.txt" in skipped and "not a tile image" in skipped and "dot.png" in skipped


def test_cli_refuses_tiles_that_are_all_one_pixel(tmp_path):
    tiny = write_tile_folder(tmp_path / "tiny", per_class=6, size=1)
    assert_user_error(run_cli("run", "--plugin", "pathology", "--data", tiny, *TINY), "too small (1x1 px")


def test_cli_refuses_a_huge_tile_and_a_mismatched_one_in_one_line(tmp_path):
    tiles = write_tile_folder(tmp_path / "tiles", per_class=6, size=32)
    huge_png(tiles / "tissue" / "huge.png", 50_000)
    assert_user_error(run_cli("run", "--plugin", "pathology", "--data", tiles, *TINY), "huge.png", "for a tile")
    (tiles / "tissue" / "huge.png").unlink()
    _save(tiles / "tissue" / "half.png", 16)
    assert_user_error(run_cli("run", "--plugin", "pathology", "--data", tiles, *TINY), "half.png",
                      "is 16x16 px", "--tile-size N")
