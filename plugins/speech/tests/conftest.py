"""Fixtures writing small audio corpora in the real formats (writers in core_speech.synthetic)."""
from __future__ import annotations

import pytest
import torch

from core.testing import run_cli as core_run_cli
from core_speech import synthetic

torch.set_num_threads(1)  # tiny models: threads only contend


@pytest.fixture
def folders(tmp_path):
    """Class folders, 3 classes x 6 speakers x 3 clips, WAV and FLAC at 8-44.1 kHz, 0.25-1.2 s."""
    return synthetic.class_folders(tmp_path / "folders")


@pytest.fixture
def manifest(tmp_path):
    """A manifest path,label,speaker: 4 classes x 8 speakers x 2 clips."""
    return synthetic.manifest(tmp_path / "corpus")


def run_cli(*args, timeout=600):
    """The real `core` console entry point in a subprocess (one torch thread)."""
    return core_run_cli(*args, env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz: Hypothesis property tests of readers (`make fuzz` runs a long profile)")
