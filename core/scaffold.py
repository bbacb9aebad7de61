"""``core new-plugin NAME``: render ``plugin_template/`` into a ready plugin distribution.

The template is plain Jinja2 (already installed: torch depends on it), not cookiecutter or
copier: rendering is one directory walk, so the extra dependency tree and their
interactive prompts, hooks and answer files buy nothing here. Rules of the walk:

* every path component may hold ``{{name}}`` (``core_{{name}}/`` becomes ``core_demo/``);
* files ending in ``.j2`` are rendered with the context below and lose the suffix; other
  files are copied byte for byte;
* the small embedded toy dataset (``core_NAME/data/toy.csv``) is generated here, seeded, for
  the chosen modality, so that ``core run --plugin NAME`` works offline at once.

The template is ``plugin_template/`` at the top of the repository; the core distribution ships
it as the data package ``core._template`` (``pyproject.toml``), so the same lookup serves a
wheel and an editable install.
"""
from __future__ import annotations

import datetime as _dt
import importlib.resources
import keyword
import math
import os
import re
import shutil
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional

import core
from core.errors import UserError

MODALITIES = ("vector", "sequence", "image", "tokens")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
RESERVED = {"core", "test", "tests", "plugin", "plugins", "builtins"}
TOY_ROWS = 150
TOY_CLASSES = ("a", "b", "c")

# per-modality example: per-sample shape of the toy data, the builtin bank the projector
# family uses and its hyper-parameters
MODALITY = {
    "vector": {"shape": (16,), "bank": "MLPBank", "projector": "mlp",
               "bank_args": "math.prod(input_spec.shape), k, out_dim, hidden=64, depth=2"},
    "sequence": {"shape": (1, 64), "bank": "Conv1dBank", "projector": "conv1d",
                 "bank_args": "input_spec.shape[0], k, out_dim, hidden=16, depth=2, kernel_size=5, stride=2"},
    "image": {"shape": (1, 12, 12), "bank": "Conv2dBank", "projector": "conv2d",
              "bank_args": "input_spec.shape[0], k, out_dim, hidden=16, depth=2, kernel_size=3, stride=2"},
    "tokens": {"shape": (24,), "vocab_size": 12, "bank": "TokenConvBank", "projector": "tokens",
               "bank_args": "int(input_spec.vocab_size), k, out_dim, embed_dim=16, hidden=32, kernel_size=5"},
}


TEMPLATE_PACKAGE = "core._template"
# the file that makes the template folder a package; it is not part of a rendered plugin
TEMPLATE_MARKER = "__init__.py"


def template_dir() -> Path:
    """The plugin template folder: ``CORE_PLUGIN_TEMPLATE`` if set, else the installed
    ``core._template`` package data, else ``plugin_template/`` next to an uninstalled ``core/``
    (a checkout on ``PYTHONPATH``)."""
    override = os.environ.get("CORE_PLUGIN_TEMPLATE")
    path = Path(override) if override else _installed_template() or _source_tree_template()
    if not (path / "pyproject.toml.j2").is_file():
        raise UserError(f"plugin template not found at {path}; reinstall core (`pip install core` or "
                        f"`pip install -e .` in its source tree) or set CORE_PLUGIN_TEMPLATE to a "
                        f"plugin_template folder")
    return path


def _installed_template() -> Optional[Path]:
    try:
        files = importlib.resources.files(TEMPLATE_PACKAGE)
    except ModuleNotFoundError:
        return None
    return files if isinstance(files, Path) else None  # a zip-imported core has no folder to walk


def _source_tree_template() -> Path:
    return Path(core.__file__).resolve().parents[1] / "plugin_template"


def template_files(src: Path) -> list[Path]:
    """The files ``render`` turns into a plugin, relative to ``src``: all but caches and the
    package marker."""
    out = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix == ".pyc" or rel == Path(TEMPLATE_MARKER):
            continue
        out.append(rel)
    return out


def validate_name(name: str) -> str:
    """A plugin NAME is a lowercase identifier: it becomes ``core_NAME`` and ``NAME/...``."""
    fixed = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    fixed = fixed if fixed and fixed[0].isalpha() else f"my_{fixed}".rstrip("_")
    if not NAME_RE.match(name) or keyword.iskeyword(name) or len(name) > 40:
        raise UserError(f"invalid plugin name {name!r}: use lowercase letters, digits and single underscores, "
                        f"starting with a letter (it becomes the package core_NAME), e.g. {fixed}")
    if name in RESERVED:
        raise UserError(f"invalid plugin name {name!r}: it is reserved; pick a domain name, e.g. my_{name}")
    taken = {ep.name for ep in entry_points(group="core")}
    if name in taken:
        raise UserError(f"a plugin named {name!r} is already installed (`core plugins`); pick another NAME")
    return name


def core_requires(version: str = core.__version__) -> str:
    """The host range a new plugin declares: this minor series (``>=0.1,<0.2``), or major >= 1."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    if major == 0:
        return f">={major}.{minor},<{major}.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def context(name: str, modality: str, author: str) -> dict:
    m = MODALITY[modality]
    shape = m["shape"]
    return {
        "name": name, "package": f"core_{name}", "dist": f"core-{name}", "modality": modality,
        "author": author, "year": _dt.date.today().year, "core_version": core.__version__,
        "core_requires": core_requires(), "shape": shape, "vocab_size": m.get("vocab_size"),
        "n_features": math.prod(shape), "bank": m["bank"], "bank_args": m["bank_args"],
        "projector": m["projector"], "toy_rows": TOY_ROWS, "classes": TOY_CLASSES,
        "shape_py": repr(tuple(shape)), "classes_py": repr(tuple(TOY_CLASSES)),
    }


def toy_table(modality: str, seed: int = 0) -> str:
    """A seeded toy CSV (``id,label,<features>``) with three separable classes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = MODALITY[modality]["shape"]
    rows = []
    for i in range(TOY_ROWS):
        c = i % len(TOY_CLASSES)
        if modality == "vector":
            centre = np.zeros(shape[0])
            centre[c * 4:(c + 1) * 4] = 2.0
            x = centre + rng.normal(size=shape[0])
        elif modality == "sequence":
            t = np.linspace(0, 1, shape[1])
            f = rng.uniform(2, 3)
            wave = [np.sin(2 * np.pi * f * t), np.sign(np.sin(2 * np.pi * f * t)),
                    2 * ((f * t) % 1) - 1][c]
            x = (wave + 0.3 * rng.normal(size=shape[1]))[None]
        elif modality == "image":
            img = 0.3 * rng.normal(size=shape[1:])
            j = rng.integers(2, shape[1] - 2)
            if c == 0:
                img[j, :] += 1.5
            elif c == 1:
                img[:, j] += 1.5
            else:
                img += 1.5 * np.eye(shape[1])
            x = img[None]
        else:  # tokens: ids 1..V-1, 0 = padding; each class repeats its motif
            vocab, length = MODALITY[modality]["vocab_size"], shape[0]
            n = rng.integers(length // 2, length + 1)
            ids = rng.integers(1, vocab, size=n)
            motif = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]][c])
            for start in rng.choice(max(1, n - 3), size=2, replace=False):
                ids[start:start + 3] = motif[: len(ids[start:start + 3])]
            x = np.zeros(length, dtype=np.int64)
            x[:n] = ids
        values = x.reshape(-1)
        fmt = (lambda v: str(int(v))) if modality == "tokens" else (lambda v: f"{v:.4f}")
        rows.append(f"toy-{i:03d},{TOY_CLASSES[c]}," + ",".join(fmt(v) for v in values))
    header = "id,label," + ",".join(f"f{j}" for j in range(math.prod(shape)))
    return header + "\n" + "\n".join(rows) + "\n"


def render(name: str, modality: str = "sequence", author: str = "", out: Optional[Path] = None) -> Path:
    """Render the template into ``out/NAME`` and return that folder."""
    import jinja2

    name = validate_name(name)
    if modality not in MODALITIES:
        raise UserError(f"--modality {modality!r}: choose one of {', '.join(MODALITIES)}")
    out = Path(out if out is not None else ".").expanduser()
    target = out / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target} already exists and is not empty; pick another NAME or --out DIR")
    src = template_dir()
    ctx = context(name, modality, author or os.environ.get("USER", "") or "the core-" + name + " authors")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(src)), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    staging = out / f".{name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for rel in template_files(src):
            dest = staging / env.from_string(str(rel)).render(ctx)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if rel.suffix == ".j2":
                text = env.get_template(rel.as_posix()).render(ctx)
                dest.with_suffix("").write_text(text)
            else:
                shutil.copyfile(src / rel, dest)
        data = staging / ctx["package"] / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "toy.csv").write_text(toy_table(modality))
        if target.exists():
            target.rmdir()
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


# ----------------------------------------------------------------------------- CLI
def add_parser(sub) -> None:
    """Register ``core new-plugin`` on the CLI's sub-parsers."""
    p = sub.add_parser("new-plugin", help="create a ready plugin distribution core-NAME from the template")
    p.add_argument("name", metavar="NAME", help="lowercase identifier, e.g. demo_x (package core_demo_x)")
    p.add_argument("--modality", choices=MODALITIES, default="sequence",
                   help="input kind of the example dataset, encoder and projector (default sequence)")
    p.add_argument("--author", default="", help="author written into pyproject.toml and the README")
    p.add_argument("--out", default=".", help="parent folder; the plugin goes to OUT/NAME (default .)")
    p.set_defaults(func=cmd_new_plugin)


def cmd_new_plugin(args) -> int:
    target = render(args.name, args.modality, args.author, Path(args.out))
    print(f"created {target}/ (distribution core-{args.name}, package core_{args.name}, "
          f"entry point '{args.name}', {args.modality} example)")
    print("next:")
    print(f"  pip install -e {target}")
    print(f"  core check {args.name}")
    print(f"  core run --plugin {args.name}")
    print(f"  pytest {target}/tests")
    return 0
