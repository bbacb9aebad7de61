"""`core embed` on a synthetic 4.3-gigapixel pyramidal TIFF keeps its peak memory bounded.

Level 0 is 65536 x 65536 RGB: 12.9 GB decoded (level 1: 3.2 GB), so reading any of the two
top levels whole, as MONAI 1.6.1's stock tifffile reader does for every patch, would blow
the bound below; the plugin reads only the tiles each patch touches.
"""
from __future__ import annotations

import subprocess
import sys

import h5py
import numpy as np

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, only_run_dir
from core.testing import run_cli
from core_pathology.synthetic import write_pyramid, write_tile_folder

SIDE = 65536
BOUND_MB = 2048  # imports (torch, MONAI, Lightning, scikit-image) take ~1 GB; level 1 alone is 3.2 GB
PEAK = ("import resource, sys; from core.cli import main; rc = main(sys.argv[1:]); "
        "print(f'PEAK_RSS_MB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}'); sys.exit(rc)")


def test_embedding_a_multi_gigapixel_pyramid_stays_bounded(tmp_path):
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    slide = write_pyramid(tmp_path / "huge.tif", SIDE, SIDE, tissue=[(40000, 20480, 41024, 21504)], tile=512,
                          levels=7, mpp=0.25)
    assert slide.stat().st_size < 50e6  # blank tiles compress to almost nothing
    tiles = write_tile_folder(tmp_path / "tiles", per_class=8, size=32)
    out = tmp_path / "runs"
    assert_ok(run_cli("run", "--plugin", "pathology", "--data", tiles, "--out", out, *TINY, env=env))
    target = tmp_path / "huge.h5"
    result = subprocess.run([sys.executable, "-c", PEAK, "embed", str(only_run_dir(out)), "--data", str(slide),
                             "--out", str(target), "--tile-size", "32"], capture_output=True, text=True,
                            env={**__import__("os").environ, **env}, timeout=600)
    assert_ok(result)
    peak = int(result.stdout.split("PEAK_RSS_MB")[1].split()[0])
    print(f"peak RSS of `core embed` on a {SIDE}x{SIDE} pyramid: {peak} MB")
    assert peak < BOUND_MB, peak
    with h5py.File(target, "r") as f:
        x, y, emb = f["x"][()], f["y"][()], f["embeddings"][()]
    # the 1024 x 1024 tissue box holds 32 x 32 tiles; it is 16 x 16 px on the 1024 px thumbnail, whose
    # median filter rounds its corners off: nearly all of them, and nothing outside it
    assert 0.9 * 32 * 32 <= len(emb) <= 32 * 32 and np.isfinite(emb).all()
    assert x.min() >= 20480 and y.min() >= 40000 and x.max() <= 21472 and y.max() <= 40992
