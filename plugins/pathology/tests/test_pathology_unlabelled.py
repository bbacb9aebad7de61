"""Unlabelled corpora for `--pretrain-data`: tile folders without classes, manifests, slides."""
from __future__ import annotations

import shutil

from core_pathology.datasets import load_files
from core_pathology.synthetic import write_manifest, write_tile_folder


def check_pool(corpus, n, spec):
    pool = corpus.splits["pretrain"]
    assert corpus.task is None and pool.targets is None and len(pool) == n
    assert [len(corpus.splits[s]) for s in ("train", "val", "test")] == [0, 0, 0]
    assert pool[0][1].item() == -1 and pool[0][2] == 0 and tuple(pool[0][0].shape) == spec.shape
    assert corpus.input_spec == spec


def test_tiles_without_classes_or_labels(tmp_path):
    classes = write_tile_folder(tmp_path / "classes", per_class=6, size=32)
    labelled = load_files(str(classes))
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in sorted(classes.rglob("*.png")):
        shutil.copy(p, flat / p.name)
    (flat / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\njunk")
    corpus = load_files(str(flat), on_bad_record="skip", unlabelled=True,
                        options={"task": "binary", "split_seed": "3"})  # label and split options: ignored
    check_pool(corpus, 12, labelled.input_spec)
    assert [where for where, _ in corpus.skipped] == [str(flat / "broken.png")]
    check_pool(load_files(str(classes), unlabelled=True), 12, labelled.input_spec)  # class folders: labels dropped
    manifest = write_manifest(tmp_path / "tiles.csv", [(f"flat/{p.name}",) for p in sorted(flat.glob("[bt]*[0-9].png"))],
                              header=("path",))
    check_pool(load_files(str(manifest), unlabelled=True), 12, labelled.input_spec)
    # --tile-size fixes the shape whatever the tiles' size
    resized = load_files(str(flat), on_bad_record="skip", unlabelled=True, options={"tile_size": "16"})
    check_pool(resized, 12, load_files(str(classes), options={"tile_size": "16"}).input_spec)


def test_slides_read_unlabelled(pyramid):
    path, _ = pyramid
    options = {"level": "2", "tile_size": "32"}
    labelled = load_files(str(path), options=options)
    n = sum(len(labelled.splits[s]) for s in ("train", "val", "test"))
    check_pool(load_files(str(path), unlabelled=True, options=options), n, labelled.input_spec)
