"""Fuzz every ECG reader (issue 15, item 7): a damaged file in place of a valid one gives a
dataset or one :class:`core.errors.UserError` line, never a traceback, within a time bound.

Each test writes a small valid corpus with :mod:`core_ecg.synthetic`, then for every example
overwrites one of its files with :func:`core.testing.damaged_bytes` of the valid content and
loads the corpus through the dataset factory the CLI uses, in both ``--on-bad-record`` modes.
"""
from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.testing import assert_fails_cleanly, damaged_bytes, fuzz_examples
from core_ecg.datasets import load_records
from core_ecg.synthetic import ts_text, ucr_lines, write_ptbxl, write_ucr, write_wfdb_dir

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=fuzz_examples(), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 20.0


class Damage:
    """``damage(data, path, target, what)``: overwrite ``target`` with damaged bytes of its valid
    content (remembered on first use), then load ``path`` in both ``--on-bad-record`` modes."""

    def __init__(self):
        self.valid = {}

    def __call__(self, data, path, target, what: str, **options) -> None:
        valid = self.valid.setdefault(target, target.read_bytes())
        target.write_bytes(data.draw(damaged_bytes(valid), label=target.name))
        try:
            for mode in ("error", "skip"):
                assert_fails_cleanly(lambda: load_records(str(path), seed=0, on_bad_record=mode, options=options),
                                     seconds=SECONDS, what=f"{what} ({mode})")
        finally:
            target.write_bytes(valid)  # the next example damages a valid corpus again


@pytest.fixture
def damage():
    return Damage()


@pytest.fixture
def wfdb_dir(tmp_path):
    return write_wfdb_dir(tmp_path / "wfdb", np.random.default_rng(0), n=12, length=200, fs=100)


@pytest.fixture
def ptbxl_dir(tmp_path):
    return write_ptbxl(tmp_path / "ptbxl", np.random.default_rng(0), n=10)


@pytest.fixture
def ucr_dir(tmp_path):
    return write_ucr(tmp_path / "ucr", np.random.default_rng(0), n_train=16, n_test=8, length=40)


@FUZZ
@given(data=st.data(), which=st.sampled_from(["rec00.hea", "rec00.dat", "labels.csv"]))
def test_wfdb_folder(wfdb_dir, damage, data, which):
    damage(data, wfdb_dir, wfdb_dir / which, f"WFDB folder, damaged {which}")


@FUZZ
@given(data=st.data(), which=st.sampled_from(["rec03.hea", "rec03.dat"]))
def test_wfdb_single_record(wfdb_dir, damage, data, which):
    # one record read alone: its labels.csv gives one class, so a clean error is the best case too
    damage(data, wfdb_dir / "rec03.hea", wfdb_dir / which, f"WFDB record, damaged {which}")


@FUZZ
@given(data=st.data(), which=st.sampled_from(["ptbxl_database.csv", "scp_statements.csv",
                                               "records100/00000/00001_lr.hea", "records100/00000/00001_lr.dat"]))
def test_ptbxl_folder(ptbxl_dir, damage, data, which):
    damage(data, ptbxl_dir, ptbxl_dir / which, f"PTB-XL folder, damaged {which}")


@FUZZ
@given(data=st.data(), which=st.sampled_from(["Toy_TRAIN.tsv", "Toy_TEST.tsv.gz"]))
def test_ucr_tsv(ucr_dir, damage, data, which):
    damage(data, ucr_dir, ucr_dir / which, f"UCR TSV, damaged {which}")


@FUZZ
@given(data=st.data())
def test_ucr_ts(tmp_path, damage, data):
    folder = tmp_path / "ts"
    if not folder.exists():
        folder.mkdir()
        rng = np.random.default_rng(0)
        (folder / "Toy_TRAIN.ts").write_text(ts_text(rng, 12))
        (folder / "Toy_TEST.ts").write_text(ts_text(rng, 6))
    damage(data, folder, folder / "Toy_TRAIN.ts", "UCR .ts, damaged Toy_TRAIN.ts")


@FUZZ
@given(data=st.data(), suffix=st.sampled_from([".csv", ".tsv", ".txt"]))
def test_single_table_file(tmp_path, damage, data, suffix):
    """One CSV/TSV file of ``label,x1,x2,...`` rows (no TRAIN/TEST pair): splits are carved."""
    path = tmp_path / f"beats{suffix}"
    if not path.exists():
        sep = "," if suffix == ".csv" else "\t"
        lines = [line.replace("\t", sep) for line in ucr_lines(np.random.default_rng(0), 24, 30)]
        path.write_text("\n".join(lines) + "\n")
    damage(data, path, path, f"table {path.name}")


@FUZZ
@given(data=st.data())
def test_npz(tmp_path, damage, data):
    path = tmp_path / "beats.npz"
    if not path.exists():
        rng = np.random.default_rng(0)
        np.savez(path, x=rng.standard_normal((24, 2, 50)), y=np.arange(24) % 3, fs=np.float64(100.0))
    damage(data, path, path, "npz archive")


@FUZZ
@given(data=st.data(), which=st.sampled_from(["x.npy", "y.npy", "split.npy"]))
def test_npy(tmp_path, damage, data, which):
    folder = tmp_path / "npy"
    if not folder.exists():
        folder.mkdir()
        rng = np.random.default_rng(0)
        np.save(folder / "x.npy", rng.standard_normal((24, 50)))
        np.save(folder / "y.npy", np.arange(24) % 2)
        np.save(folder / "split.npy", np.array(["train"] * 16 + ["val"] * 4 + ["test"] * 4))
    damage(data, folder, folder / which, f"npy arrays, damaged {which}")


def test_valid_seeds_load(wfdb_dir, ptbxl_dir, ucr_dir, tmp_path):
    """The seeds the fuzzers damage are valid corpora (so damage, not the seed, makes them fail)."""
    for path in (wfdb_dir, ptbxl_dir, ucr_dir):
        assert len(load_records(str(path), seed=0, options={}).splits["train"]) > 0
    assert gzip.decompress((ucr_dir / "Toy_TEST.tsv.gz").read_bytes())
