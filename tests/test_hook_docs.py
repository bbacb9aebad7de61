"""Every hook of the contract is documented in docs/hooks.md and exercised by a test."""
import inspect
from pathlib import Path

import pytest

from core import hookspecs

REPO = Path(__file__).resolve().parents[1]
HOOKS = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("core_")]


def test_hook_list_is_the_contract():
    assert set(HOOKS) == {"core_datasets", "core_encoders", "core_projectors", "core_objectives",
                          "core_evaluators", "core_recipes", "core_augmentations", "core_cli"}


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_and_tested(hook):
    func = getattr(hookspecs, hook)
    assert func.__doc__ and len(func.__doc__.split()) > 10, f"{hook} lacks a docstring"
    assert f"### {hook}" in (REPO / "docs" / "hooks.md").read_text(), f"{hook} lacks a section in docs/hooks.md"
    tests = [p for p in list((REPO / "tests").glob("test_*.py")) + list((REPO / "plugins").glob("*/tests/test_*.py"))
             if p.name != "test_hook_docs.py"]
    assert any(hook in p.read_text() for p in tests), f"no test mentions {hook}"
