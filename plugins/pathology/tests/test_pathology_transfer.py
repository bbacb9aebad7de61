"""Issue 14 item 1 through the real CLI: pretrain on a flat folder of tiles (``--pretrain-data``)
plus a class folder, then probe the run's encoder on another class folder (``core evaluate RUN --data``)."""
from __future__ import annotations

from core.testing import assert_transfer
from core.testing import run_cli as core_run_cli
from core_pathology.datasets import load_files
from core_pathology.synthetic import tile_image

KINDS = ("background", "tissue")


def cli(*args):
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=600)


def write_tiles(root, per_kind: int, seed: int, classes: bool = True):
    """32 px PNG tiles, ``per_kind`` of each kind, seeded from ``seed`` (distinct pixels per corpus);
    in class folders ``root/<kind>/`` or all in ``root`` (unlabelled)."""
    from PIL import Image

    for c, kind in enumerate(KINDS):
        folder = root / kind if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_kind):
            Image.fromarray(tile_image(kind, 32, seed=seed + 100 * c + i)).save(folder / f"{kind}{i}.png")
    return root


def test_pretrain_on_a_flat_tile_folder_then_evaluate_on_another_class_folder(tmp_path):
    labelled = write_tiles(tmp_path / "a", 10, seed=0)
    second = write_tiles(tmp_path / "b", 10, seed=1000)
    unlabelled = write_tiles(tmp_path / "u", 8, seed=2000, classes=False)  # 16 tiles, no classes
    expected = load_files(str(second), seed=0).splits  # B read directly, at the run's seed
    assert_transfer("pathology", labelled, second, unlabelled, tmp_path / "runs", unlabelled_size=16,
                    other_size=20, other_test=len(expected["test"]), cli=cli)
