"""Packaging: every distribution's licence and host range, and core used from its built wheel.

The wheel tests build core's wheel offline (``pip wheel --no-deps --no-build-isolation`` of a
copy of its sources) and install it NON-editable into an *overlay* environment: a bare venv
whose ``.pth`` adds this environment's site-packages for the dependencies (torch, ...). The
overlay's own site-packages comes first on ``sys.path``, so the wheel's ``core`` shadows the
editable one of this environment; the new user's path then runs there as subprocesses.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import core
from core import scaffold
from core.testing import TINY_RUN_ARGS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the `test` extra installs tomli
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
LICENSE = REPO / "LICENSE"
PLUGIN_DIRS = sorted(p.parent for p in REPO.glob("plugins/*/pyproject.toml"))
# what the core distribution is built from (pyproject.toml names README.md and LICENSE)
CORE_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "core", "plugin_template")
CACHES = shutil.ignore_patterns("__pycache__", "*.py[co]")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A plugin freshly rendered from the template."""
    return scaffold.render("pkg_check", "vector", "Tester", tmp_path_factory.mktemp("rendered"))


# ----------------------------------------------------------------------------- licence, host range
def test_every_distribution_declares_apache_2_with_the_same_licence_file(rendered):
    top = LICENSE.read_bytes()
    assert b"Apache License" in top and b"Version 2.0, January 2004" in top
    assert len(PLUGIN_DIRS) >= 5
    for folder in [REPO, *PLUGIN_DIRS, rendered]:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        assert project["license"] == "Apache-2.0", folder
        assert project["license-files"] == ["LICENSE"], folder
        assert (folder / "LICENSE").read_bytes() == top, f"{folder / 'LICENSE'} differs from {LICENSE}"
    assert (REPO / "plugin_template" / "LICENSE").read_bytes() == top


def core_requires_of(folder: Path) -> str:
    """``CORE_REQUIRES`` of the plugin's entry module, read without importing it."""
    (module,) = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["entry-points"]["core"].values()
    source = folder / (module.replace(".", "/") + ".py")
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["CORE_REQUIRES"]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{source} declares no CORE_REQUIRES")


def test_every_plugin_depends_on_the_core_range_its_plugin_module_declares(rendered):
    for folder in [*PLUGIN_DIRS, rendered]:
        requires = [Requirement(r) for r in tomllib.loads((folder / "pyproject.toml").read_text())["project"]
                    ["dependencies"]]
        (host,) = [r for r in requires if r.name == "core"]
        declared = core_requires_of(folder)
        assert host.specifier == SpecifierSet(declared), f"{folder}: pyproject core{host.specifier} != {declared}"
        assert host.specifier.contains(core.__version__), folder
    assert core_requires_of(rendered) == scaffold.core_requires()


# ----------------------------------------------------------------------------- the core wheel
@pytest.fixture(scope="module")
def core_sources(tmp_path_factory) -> Path:
    """A copy of what the core distribution is built from (the shared tree gets no build/)."""
    src = tmp_path_factory.mktemp("core_sources") / "src"
    src.mkdir()
    for name in CORE_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=CACHES)
        else:
            shutil.copy2(REPO / name, src / name)
    return src


@pytest.fixture(scope="module")
def core_wheel(core_sources, tmp_path_factory) -> Path:
    """core's wheel, built offline."""
    dist = tmp_path_factory.mktemp("dist")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", str(core_sources), "-w", str(dist)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (wheel,) = dist.glob("core-*.whl")
    return wheel


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}


def test_core_wheel_ships_every_module_the_template_and_the_licence(core_wheel, core_sources):
    with zipfile.ZipFile(core_wheel) as whl:
        names = set(whl.namelist())
        metadata = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    modules = {n for n in names if n.startswith("core/") and not n.startswith("core/_template/")}
    assert modules == {f"core/{f}" for f in files_under(core_sources / "core")}, \
        "a folder of core/ is missing from [tool.setuptools] packages in pyproject.toml"
    template = {n.removeprefix("core/_template/") for n in names if n.startswith("core/_template/")}
    assert template == files_under(core_sources / "plugin_template")
    assert {".gitignore", "LICENSE", "pyproject.toml.j2"} <= template
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata


def overlay(root: Path) -> dict:
    """The environment of a bare venv under ``root`` that also sees this environment's packages."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "_core_parent_env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CORE_", "PYTHON"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PYTHONWARNINGS="ignore", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1",
               OMP_NUM_THREADS="2")
    return env


def sh(command: str, cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    out = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"$ {command}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


# --ignore-installed: never touch (uninstall) the editable core of the parent environment
INSTALL = "python -m pip install -q --no-deps --no-build-isolation --ignore-installed"
WHERE = "python -c 'import core, core.scaffold as s; print(core.__file__); print(s._installed_template())'"


@pytest.fixture(scope="module")
def wheel_env(core_wheel, tmp_path_factory) -> dict:
    """An overlay venv with core installed from its wheel; its bin/ (the real `core` script) on PATH."""
    env = overlay(tmp_path_factory.mktemp("wheel_env"))
    sh(f"{INSTALL} {core_wheel}", core_wheel.parent, env)
    return env


def test_an_editable_install_finds_the_template_as_package_data(core_sources, tmp_path):
    env = overlay(tmp_path)
    sh(f"{INSTALL} -e {core_sources}", tmp_path, env)
    core_file, template = sh(WHERE, tmp_path, env).stdout.split()
    assert Path(core_file) == core_sources / "core" / "__init__.py"
    assert Path(template) == core_sources / "plugin_template"


def test_the_wheel_core_shadows_the_editable_one(wheel_env, tmp_path):
    venv = Path(wheel_env["VIRTUAL_ENV"])
    where = sh(WHERE, tmp_path, wheel_env).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert Path(where[1]).parts[-2:] == ("core", "_template")
    assert Path(sh("command -v core", tmp_path, wheel_env).stdout.strip()).is_relative_to(venv)


@pytest.mark.slow
def test_new_plugin_install_and_run_from_the_core_wheel(wheel_env, tmp_path):
    """The acceptance path from wheels: new-plugin, a plain (non-editable) pip install, core run."""
    sh("core new-plugin demo_w --modality vector", tmp_path, wheel_env)
    sh("python -m pip install -q --no-deps --no-build-isolation ./demo_w", tmp_path, wheel_env)
    installed = sh("python -c 'import core_demo_w; print(core_demo_w.__file__)'", tmp_path, wheel_env)
    assert "site-packages" in installed.stdout
    run = sh("core run --plugin demo_w " + " ".join(TINY_RUN_ARGS), tmp_path, wheel_env).stdout
    assert "pretrained encoder" in run
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.endswith("-demo_w-toy") and (folder / "report.md").exists()
