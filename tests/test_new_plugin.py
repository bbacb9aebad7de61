"""`core new-plugin`: names, every modality's template, and the new user's path end to end.

The end-to-end tests install the rendered plugin into an *overlay* virtual environment: a
bare venv (no pip copy, ~0.1 s) whose site-packages holds a .pth line adding this
environment's site-packages, so core, torch and every dependency are shared but the new
plugin's entry point is visible only inside it (the shared .venv is never touched, and there is
nothing to uninstall). `pip install -e` runs there with --no-deps --no-build-isolation: no
index access, a few seconds.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from core import scaffold
from core.cli import main

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- names, rendering
@pytest.mark.parametrize("bad", ["Demo", "demo-x", "1demo", "demo__x", "demo_", "class", "core", "ecg", "a b"])
def test_bad_names_get_one_clear_line_and_exit_2(bad, tmp_path, capsys):
    if bad == "ecg":
        pytest.importorskip("core_ecg")
    assert main(["new-plugin", bad, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and repr(bad) in err, err
    assert not list(tmp_path.iterdir())


def test_name_error_suggests_a_valid_name(capsys, tmp_path):
    main(["new-plugin", "Demo-X", "--out", str(tmp_path)])
    assert "e.g. demo_x" in capsys.readouterr().err


def test_existing_folder_is_refused(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    assert main(["new-plugin", "taken", "--out", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_core_requires_tracks_the_host_series():
    assert scaffold.core_requires("0.1.0") == ">=0.1,<0.2"
    assert scaffold.core_requires("1.4.2") == ">=1.4,<2"


@pytest.mark.parametrize("modality", ["vector", "image", "tokens"])  # sequence: the end-to-end test
def test_every_modality_renders_a_plugin_that_passes_the_contract(modality, tmp_path, monkeypatch):
    from core.testing import check_contract

    name = f"tpl_{modality}"
    root = scaffold.render(name, modality, "Tester", tmp_path)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    template = scaffold.template_dir()
    rendered = {rel.as_posix().replace("{{name}}", name).removesuffix(".j2")
                for rel in scaffold.template_files(template)}
    assert files == sorted(rendered | {f"core_{name}/data/toy.csv"})
    assert {".github/workflows/tests.yml", ".gitignore", "LICENSE", "README.md", f"core_{name}/__init__.py",
            f"core_{name}/plugin.py", "pyproject.toml"} <= set(files) and "__init__.py" not in files
    assert (root / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    for mentioned in set(re.findall(rf"core_{name}/[\w/.]+\.\w+", (root / "README.md").read_text())):
        assert (root / mentioned).is_file(), f"README.md names {mentioned}, which the template does not render"
    text = (root / "pyproject.toml").read_text()
    assert f'[project.entry-points.core]\n{name} = "core_{name}.plugin"' in text
    assert '"core>=0.1,<0.2"' in text and f'name = "core-{name}"' in text
    assert "{{" not in "".join((root / f).read_text() for f in files if not f.endswith(".yml"))
    monkeypatch.syspath_prepend(str(root))
    plugin = __import__(f"core_{name}.plugin", fromlist=["plugin"])
    assert plugin.CORE_REQUIRES == scaffold.core_requires()
    (report,) = check_contract(plugin)
    assert report.ok, report.format()
    assert {r.kind for r in report.results} == {"dataset", "encoder", "projector", "objective", "evaluator", "recipe",
                                                "cli"}


# ----------------------------------------------------------------------------- the new user's path
@pytest.fixture(scope="module")
def overlay(tmp_path_factory):
    """A bare venv seeing this environment's packages; `core`, `pip`, `pytest` on its PATH."""
    root = tmp_path_factory.mktemp("overlay")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    parent = sysconfig.get_path("purelib")
    (site / "_core_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    python = venv / "bin" / "python"
    # offline editable install needs setuptools >= 64 here; otherwise pip builds in isolation (index)
    try:
        import setuptools
        offline = int(setuptools.__version__.split(".")[0]) >= 64
    except ImportError:
        offline = False
    isolation = "--no-build-isolation " if offline else ""
    scripts = {
        "core": f'exec "{python}" -m core.cli "$@"',
        "pytest": f'exec "{python}" -m pytest -p no:cacheprovider "$@"',
        # the tutorial's `pip install -e X`, offline: dependencies are already in the parent env
        "pip": f'if [ "$1" = install ]; then shift; exec "{python}" -m pip install -q --no-deps '
               f'{isolation}"$@"; fi\nexec "{python}" -m pip "$@"',
    }
    for name, body in scripts.items():
        path = venv / "bin" / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CORE_"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PYTHONWARNINGS="ignore", PIP_DISABLE_PIP_VERSION_CHECK="1", OMP_NUM_THREADS="2")
    return env


def sh(command: str, cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    out = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"$ {command}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_new_plugin_install_run_and_its_own_tests(overlay, tmp_path):
    """The acceptance path: new-plugin in an empty folder, pip install -e, core run, its tests."""
    work = tmp_path / "empty"
    work.mkdir()
    sh("core new-plugin demo_x --modality sequence", work, overlay)
    sh("pip install -e demo_x", work, overlay)
    listed = sh("core plugins", work, overlay).stdout
    assert "demo_x 0.1.0" in listed and "demo_x/default" in listed
    run = sh("core run --plugin demo_x --no-progress", work, overlay).stdout
    assert "pretrained encoder" in run and "raw features" in run
    (folder,) = (work / "runs").iterdir()
    assert folder.name.endswith("-demo_x-toy") and (folder / "report.md").exists()
    tests = sh("pytest -q demo_x/tests", work, overlay).stdout
    assert re.search(r"\b11 passed\b", tests), tests
    from importlib.metadata import entry_points

    assert "demo_x" not in {ep.name for ep in entry_points(group="core")}  # only the overlay has it


# ----------------------------------------------------------------------------- the tutorial, executed
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def tutorial_steps(text: str) -> list[tuple[str, str, str]]:
    """(kind, target, body) for each executable block: ('run', '', line), ('write', path, text),
    ('patch', path, diff). Blocks without a title other than bash (text output) are skipped."""
    steps = []
    for lang, attrs, body in FENCE.findall(text):
        title = re.search(r'title="([^"]+)"', attrs)
        if lang == "bash":
            steps += [("run", "", line) for line in body.splitlines() if line.strip() and not line.startswith("#")]
        elif lang == "diff" and title:
            steps.append(("patch", title.group(1), body))
        elif title:
            steps.append(("write", title.group(1), body))
    return steps


def apply_diff(path: Path, diff: str) -> None:
    """Apply a context diff block: ' ' and '-' lines must appear verbatim (once); '+' lines replace them."""
    old = [line[1:] for line in diff.splitlines() if line[:1] in (" ", "-")]
    new = [line[1:] for line in diff.splitlines() if line[:1] in (" ", "+")]
    text = path.read_text()
    before = "\n".join(old) + "\n"
    assert text.count(before) == 1, f"the tutorial's diff no longer matches {path}:\n{before}"
    path.write_text(text.replace(before, "\n".join(new) + "\n"))


def test_tutorial_blocks_are_parsed():
    steps = tutorial_steps((REPO / "docs" / "tutorial.md").read_text())
    kinds = [k for k, _, _ in steps]
    assert kinds.count("run") >= 7 and "write" in kinds and "patch" in kinds
    assert steps[0] == ("run", "", 'core new-plugin hello --modality vector --author "Ada Lovelace"')


@pytest.mark.slow
def test_tutorial(overlay, tmp_path):
    """docs/tutorial.md, step by step, in an empty folder."""
    for kind, target, body in tutorial_steps((REPO / "docs" / "tutorial.md").read_text()):
        if kind == "run":
            out = sh(body, tmp_path, overlay)
            if shlex.split(body)[:2] == ["core", "check"]:
                assert "checks passed" in out.stdout, out.stdout
        elif kind == "write":
            (tmp_path / target).write_text(body)
        else:
            apply_diff(tmp_path / target, body)
    assert "nn.Dropout(0.1)" in (tmp_path / "hello" / "core_hello" / "encoders.py").read_text()
    assert len(list((tmp_path / "runs").iterdir())) == 2
