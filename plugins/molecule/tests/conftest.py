"""Fixtures writing small molecule corpora in the real formats (writers in core_molecule.synthetic)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

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
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
