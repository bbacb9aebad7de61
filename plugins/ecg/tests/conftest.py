"""Fixtures writing small corpora in the real formats (writers in core_ecg.synthetic)."""
from __future__ import annotations

import numpy as np
import pytest

from core_ecg.synthetic import (  # noqa: F401  (re-exported for the tests)
    LEADS12, PTBXL_CODES, beat, ts_text, ucr_lines, write_ptbxl, write_ucr, write_wfdb, write_wfdb_dir)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def wfdb_dir(tmp_path, rng):
    """20 two-lead records at 250 Hz, 500 samples, labels A/B/C in labels.csv (no split)."""
    return write_wfdb_dir(tmp_path / "wfdb", rng)


@pytest.fixture
def ptbxl_dir(tmp_path, rng):
    """A PTB-XL-layout folder: 10 records (folds 1..10), records100/ and records500/."""
    return write_ptbxl(tmp_path / "ptbxl", rng)


@pytest.fixture
def ucr_dir(tmp_path, rng):
    """Toy_TRAIN.tsv (30 rows) and Toy_TEST.tsv.gz (20 rows), 60 samples, labels 1/2."""
    return write_ucr(tmp_path / "ucr", rng)


@pytest.fixture
def ts_dir(tmp_path, rng):
    folder = tmp_path / "ts"
    folder.mkdir()
    (folder / "Toy_TRAIN.ts").write_text(ts_text(rng, 24))
    (folder / "Toy_TEST.ts").write_text(ts_text(rng, 12))
    return folder


def pytest_configure(config):
    """Register the ``fuzz`` mark when this plugin's tests run on their own (its pyproject's ini)."""
    config.addinivalue_line("markers", "fuzz: Hypothesis property tests of readers (`make fuzz`: long profile)")
