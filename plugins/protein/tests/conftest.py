"""Fixtures of the protein plugin's tests (writers live in core_protein.synthetic)."""
from __future__ import annotations

import pytest
import torch

from core.testing import run_cli as core_run_cli

torch.set_num_threads(1)  # tiny models: threads only contend


def run_cli(*args, timeout=600):
    """The real `core` console entry point in a subprocess (one torch thread)."""
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def pytest_configure(config):
    """Register the ``fuzz`` mark when this plugin's tests run on their own (its pyproject's ini)."""
    config.addinivalue_line("markers", "fuzz: Hypothesis property tests of readers (`make fuzz`: long profile)")
