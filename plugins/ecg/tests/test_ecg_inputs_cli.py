"""Issue 15 through the real CLI: nothing in an ECG folder is dropped silently (item 4) and the
default input length is bounded (item 5)."""
from __future__ import annotations

import numpy as np

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir, run_cli
from core_ecg.preprocess import MAX_DEFAULT_LENGTH
from core_ecg.synthetic import beat, write_wfdb, write_wfdb_dir

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_unsupported_files_in_a_wfdb_folder_are_listed_in_skipped_csv(tmp_path):
    folder = write_wfdb_dir(tmp_path / "wfdb", np.random.default_rng(0), n=12, length=200, fs=100)
    (folder / "notes.txt").write_text("recorded on ward 3\n")
    (folder / "song.mp3").write_bytes(b"ID3\x03\x00" + bytes(64))
    out = tmp_path / "runs"
    assert_ok(run_cli("run", "--plugin", "ecg", "--dataset", "ecg/records", "--data", folder, "--out", out, *TINY,
                      env=ENV))
    skipped = (only_run_dir(out) / "skipped.csv").read_text()
    assert "notes.txt" in skipped and "song.mp3" in skipped and "not read" in skipped
    assert "rec0" not in skipped  # the records themselves were all read


def test_records_longer_than_the_default_limit_are_refused_naming_the_option(tmp_path):
    folder = tmp_path / "long"
    rng = np.random.default_rng(0)
    rows = ["record,label"]
    for i in range(12):
        write_wfdb(folder, f"h{i:02d}", beat(rng, MAX_DEFAULT_LENGTH + 1, 250, i % 2), 250)
        rows.append(f"h{i:02d},{'AB'[i % 2]}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    assert_user_error(run_cli("run", "--plugin", "ecg", "--dataset", "ecg/records", "--data", folder,
                              "--out", tmp_path / "runs", *TINY, env=ENV),
                      f"{MAX_DEFAULT_LENGTH + 1} samples", "--option length=N")
