import textwrap
from pathlib import Path

import pytest

from core.testing import run_cli

REPO = Path(__file__).resolve().parents[1]


def make_dist(root: Path, name: str, module_source: str, ep_name: str | None = None) -> Path:
    """Write an installed-looking distribution (dist-info + module) declaring a `core` entry point."""
    ep_name = ep_name or name
    mod = f"{name}_plugin_mod"
    (root / f"{mod}.py").write_text(textwrap.dedent(module_source))
    info = root / f"core_{name}-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: core-{name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[core]\n{ep_name} = {mod}\n")
    return root


def load_script(path: str):
    """A repository script (``benchmarks/NAME.py``) imported as a module, to test its pure parts;
    registered in ``sys.modules`` while it executes (dataclasses look their module up)."""
    import importlib.util
    import sys

    name = Path(path).stem
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


@pytest.fixture(scope="session")
def script():
    """``script("benchmarks/NAME.py")``: :func:`load_script`."""
    return load_script


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def fake_dist():
    """``fake_dist(root, name, module_source)`` writes an installed-looking plugin distribution."""
    return make_dist


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is faster, and spinning threads stall on shared CPUs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
