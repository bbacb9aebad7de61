"""The documentation site: strict mkdocs build, generated CLI reference, one page per plugin."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "_gen" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_generated_from_the_parser():
    import argparse

    hooks = _hooks()
    text = hooks.cli_reference()
    parser = hooks._core_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sp in sub.choices.items():
        assert f"### core {name}\n" in text, name
        for action in sp._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in text, (name, flag)
    assert "### core new-plugin" in text and "### core check" in text
    assert "<!-- cli-reference -->" in (REPO / "docs" / "cli.md").read_text()


def test_plugin_readmes_become_pages_with_docs_links():
    hooks = _hooks()
    readmes = hooks.plugin_readmes()
    assert "ecg" in readmes
    text = hooks.rewrite_links("see [core](../../README.md), [hooks](../../docs/hooks.md), "
                               "[src](core_ecg/plugin.py), [web](https://example.org)", readmes["ecg"])
    assert text == "see [core](../index.md), [hooks](../hooks.md), src, [web](https://example.org)"


def test_nav_pages_exist():
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    for item in nav:
        (title, page), = item.items()
        assert (REPO / "docs" / page).exists(), (title, page)


def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    site = tmp_path / "site"
    for page in ("tutorial", "cli", "hooks", "concepts", "getting-started", "testing", "benchmarks", "plugins/ecg"):
        assert (site / page / "index.html").exists(), page
    assert "core check" in (site / "cli" / "index.html").read_text()


def _slug(heading: str) -> str:
    """mkdocs' toc anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    import re

    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[\s]+", "-", text)


def test_code_points_at_sections_of_the_design_page_that_exist():
    import re

    page = (REPO / "docs" / "design.md").read_text()
    anchors = {_slug(line.lstrip("#")) for line in page.splitlines() if line.startswith("## ")}
    cited = {}
    for path in [*REPO.glob("core/**/*.py"), *REPO.glob("plugins/*/core_*/**/*.py")]:
        for anchor in re.findall(r"docs/design\.md#([\w-]+)", path.read_text()):
            cited.setdefault(anchor, path.relative_to(REPO))
    assert cited, "the code cites no section of docs/design.md"
    missing = {a: str(p) for a, p in cited.items() if a not in anchors}
    assert not missing, f"cited sections missing from docs/design.md: {missing}; sections: {sorted(anchors)}"
    stale = [str(p.relative_to(REPO)) for p in REPO.glob("core/**/*.py") if "DESIGN §" in p.read_text()]
    assert not stale, f"docstrings cite DESIGN §N, a file outside the repository: {stale}"
