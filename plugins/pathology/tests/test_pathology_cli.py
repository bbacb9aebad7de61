"""Integration: the real `core` CLI on tile folders, CSV manifests and slides written in real formats."""
from __future__ import annotations

import csv
import json
import numpy as np
import pytest

from core.errors import UserError
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core.testing import run_cli as core_run_cli
from core_pathology.synthetic import tile_image, write_manifest, write_pyramid, write_tile_folder


def run_cli(*args):
    """The real `core` command in a subprocess, one torch thread (tiny models)."""
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=600)


def _corrupt(folder):
    """A file that is not an image and a truncated PNG, among the tiles."""
    (folder / "tissue" / "s1_broken.png").write_bytes(b"this is not a png")
    good = next((folder / "tissue").glob("*.png")).read_bytes()
    (folder / "tissue" / "s2_truncated.png").write_bytes(good[: len(good) // 2])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run on a class folder of 32 px tiles with two bad files, skipped and listed."""
    root = tmp_path_factory.mktemp("folder")
    tiles = write_tile_folder(root / "tiles", per_class=12, size=32, slides=4)
    _corrupt(tiles)
    out = root / "runs"
    result = run_cli("run", "--plugin", "pathology", "--data", tiles, "--slide-pattern", r"^(s\d+)_",
                     "--on-bad-record", "skip", "--out", out, *TINY)
    return tiles, result, out


def test_class_folder_run_skips_and_lists_bad_files(trained):
    tiles, result, out = trained
    assert_ok(result)
    assert "pretrained encoder" in result.stdout and "raw features" in result.stdout
    run = only_run_dir(out)
    skipped = (run / "skipped.csv").read_text()
    assert "s1_broken.png" in skipped and "s2_truncated.png" in skipped
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary_metric"] == "auroc"
    assert sum(metrics["dataset"]["sizes"][s] for s in ("train", "val", "test")) == 24
    assert "by slide (4 slides" in metrics["dataset"]["source"]
    card = json.loads((run / "card.json").read_text())
    assert card["input_spec"]["shape"] == [3, 32, 32] and card["encoder"] == "pathology/cnn"


def test_corrupt_and_truncated_files_are_named(tmp_path):
    from core_pathology.datasets import load_files

    tiles = write_tile_folder(tmp_path / "tiles", per_class=6, size=32)
    (tiles / "tissue" / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert_user_error(run_cli("run", "--plugin", "pathology", "--data", tiles, *TINY), "zz_broken.jpg",
                      "cannot decode", "--on-bad-record skip")
    (tiles / "tissue" / "zz_broken.jpg").unlink()
    good = next((tiles / "tissue").glob("*.png")).read_bytes()
    (tiles / "background" / "half.png").write_bytes(good[:200])
    with pytest.raises(UserError, match="half.png: cannot decode the image .*truncated"):
        load_files(str(tiles))
    data = load_files(str(tiles), on_bad_record="skip")
    assert [why for _, why in data.skipped] and data.failed[0]["path"].endswith("half.png")


def test_csv_manifest_run_with_slide_ids(tmp_path):
    from PIL import Image

    from core_pathology.datasets import load_files

    (tmp_path / "img").mkdir()
    rows = []
    for i in range(36):
        kind = ("background", "tissue", "dense")[i % 3]
        Image.fromarray(tile_image(kind, 24, i)).save(tmp_path / "img" / f"t{i}.tif")
        rows.append((f"img/t{i}.tif", kind, f"patient{i % 6}"))
    manifest = write_manifest(tmp_path / "tiles.csv", rows)
    out = tmp_path / "runs"
    assert_ok(run_cli("run", "--plugin", "pathology", "--data", manifest, "--out", out, *TINY))
    metrics = json.loads((only_run_dir(out) / "metrics.json").read_text())
    assert metrics["primary_metric"] == "accuracy" and "by slide (6 slides" in metrics["dataset"]["source"]
    missing = write_manifest(tmp_path / "missing.csv", rows + [("img/nope.png", "tissue", "patient0")])
    with pytest.raises(UserError, match=r"missing.csv:38 \(.*nope.png\): no such file"):
        load_files(str(missing))


def test_embed_slides_to_h5_then_slide_level_mil(trained, tmp_path):
    import h5py

    from core.embedding import embed_to_file

    tiles, result, out = trained
    run = only_run_dir(out)
    slides = tmp_path / "slides"
    slides.mkdir()
    labels = [("slide_id", "label")]
    for i in range(9):  # 3 per class would do; 9 gives the MIL a few bags per split
        dense = i % 2 == 0
        write_pyramid(slides / f"case{i}.tif", 512, 512, tissue=[(128, 128, 384, 384)], tile=128, levels=2,
                      seed=i, nuclei_per_px=1 / 40 if dense else 1 / 400)
        labels.append((f"case{i}", "dense" if dense else "sparse"))
    target = tmp_path / "tiles.h5"
    res = assert_ok(run_cli("embed", run, "--data", slides, "--out", target, "--tile-size", "32"))
    assert "wrote 576 embeddings" in res.stdout  # 9 slides x (256 / 32)^2 tissue tiles
    with h5py.File(target, "r") as f:
        emb = f["embeddings"][()]
        x, y, level = f["x"][()], f["y"][()], f["level"][()]
        slide = [s.decode() for s in f["slide_id"][()]]
    assert emb.shape == (576, 16) and np.isfinite(emb).all() and set(level) == {0}
    assert x.min() == 128 and x.max() == 352 and y.min() == 128 and (x % 32 == 0).all()
    assert sorted(set(slide)) == [f"case{i}" for i in range(9)]
    # one slide to .npz: same rows for that slide
    one = tmp_path / "one.npz"
    assert_ok(run_cli("embed", run, "--data", slides / "case0.tif", "--out", one, "--tile-size", "32"))
    with np.load(one) as f:
        assert f["embeddings"].shape == (64, 16) and set(f["slide_id"]) == {"case0"}
        assert {"x", "y", "level", "footprint", "mpp", "tissue_fraction"} <= set(f.files)
    # slide-level evaluation from the embeddings and a slide_id,label CSV
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(labels)
    res = assert_ok(run_cli("slides", target, "--labels", tmp_path / "labels.csv", "--out", tmp_path / "mil.json"))
    assert "attention MIL" in res.stdout and "mean-pool + linear" in res.stdout
    report = json.loads((tmp_path / "mil.json").read_text())
    slides_of = report["slides"]
    assert sum(len(v) for v in slides_of.values()) == 9
    assert not set(slides_of["train"]) & set(slides_of["test"])
    assert 0 <= report["results"]["attention MIL"]["accuracy"] <= 1
    # a tile size that does not match the encoder is a clear error
    with pytest.raises(UserError, match=r"\(3, 64, 64\) but the encoder expects \(3, 32, 32\)"):
        embed_to_file(run, str(slides / "case0.tif"), tmp_path / "x.npz")
