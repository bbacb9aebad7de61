"""Fixtures writing small molecule corpora in the real formats (writers in core_molecule.synthetic)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.testing import run_cli as core_run_cli
from core_molecule.synthetic import molecule_table, write_csv, write_sdf

torch.set_num_threads(1)  # tiny models: threads only contend


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def rows(rng):
    """40 real molecules with logS, a 0/1 label and two 0/1 labels with gaps."""
    return molecule_table(40, rng)


@pytest.fixture
def csv_file(tmp_path, rows):
    return write_csv(tmp_path / "mols.csv", rows)


@pytest.fixture
def sdf_file(tmp_path, rows):
    return write_sdf(tmp_path / "mols.sdf", rows, props=("logS", "soluble"))


def run_cli(*args, timeout=600):
    """The real `core` console entry point in a subprocess (one torch thread)."""
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def pytest_configure(config):
    """Register the ``fuzz`` mark when this plugin's tests run on their own (its pyproject's ini)."""
    config.addinivalue_line("markers", "fuzz: Hypothesis property tests of readers (`make fuzz`: long profile)")
