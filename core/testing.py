"""Test kit for plugin authors: a pytest plugin (entry point ``pytest11: core``) and helpers.

Installed with ``core``, so every test of a plugin gets these fixtures without a conftest:

* ``core_plugin_manager(*plugins, builtins=True)``: an isolated
  :class:`core.plugins.PluginManager` holding the core's built-in pieces and only the given
  plugins (modules, import paths, entry-point names or ``(name, module)`` pairs); nothing else
  installed in the environment leaks in.
* ``core_tiny_dataset(modality="vector", task="multiclass", n=48, shape=None, seed=0)``: a small
  seeded :class:`core.LoadedDataset` with all four splits, for encoder or objective tests.
* ``core_check_contract(*plugins, data=None)``: runs the contract checker
  (:func:`core.contract.check_plugin`, the same as ``core check PLUGIN``) on each plugin in an
  isolated manager and fails the test with one line per broken spec; returns the report.

* ``core_command(*args, env=None, cwd=None, timeout=900)``: runs the real ``core`` command in a
  subprocess; check its result with :func:`assert_ok` / :func:`assert_user_error`, find the
  run folder with :func:`only_run_dir`, and keep runs tiny with :data:`TINY_RUN_ARGS`.
  :func:`assert_transfer` checks ``--pretrain-data`` and ``core evaluate RUN --data`` end to end
  on three small corpora a plugin's test writes.
  :func:`paired_splits` pairs the splits of shards and of the in-memory reader for comparison;
  :func:`assert_prepared_runs` checks ``core prepare`` then ``core run`` on the shards, unlabelled
  (``--pretrain-data``) and labelled (``--data``).

* :func:`assert_entry_module_light` (``"core_demo.plugin", heavy={"torch", ...}``): imports the
  entry module in a fresh interpreter, calls every hook it defines, and fails naming any heavy
  module that got imported (entry-point modules stay light: docs/design.md).

* :func:`assert_fails_cleanly` and :func:`damaged_bytes` (a Hypothesis strategy) for fuzzing
  readers: whatever bytes a reader is given, it returns or raises the project's one-line
  :class:`~core.errors.UserError`, never anything else, within a time bound.

The same helpers are importable for use outside pytest: :func:`isolated_plugin_manager`,
:func:`tiny_dataset`, :func:`assert_contract`. This module imports nothing heavy at import
time: pytest loads it in every session of an environment where ``core`` is installed.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional, Sequence, Union

import pytest

PluginRef = Union[ModuleType, str, tuple]


def _plugin_name(module: ModuleType) -> str:
    """``core_demo.plugin`` -> ``demo`` (the entry-point name convention), else the module name."""
    top = module.__name__.split(".")[0]
    return top[len("core_"):] if top.startswith("core_") else module.__name__.rsplit(".", 1)[-1]


def _resolve(ref: PluginRef) -> tuple[str, ModuleType, str]:
    from importlib.metadata import entry_points

    if isinstance(ref, tuple):
        name, module = ref
        module = importlib.import_module(module) if isinstance(module, str) else module
        return name, module, ""
    if isinstance(ref, ModuleType):
        return _plugin_name(ref), ref, ""
    for ep in entry_points(group="core"):
        if ep.name == ref:
            return ep.name, ep.load(), ep.dist.version if ep.dist is not None else ""
    module = importlib.import_module(ref)
    return _plugin_name(module), module, ""


def isolated_plugin_manager(*plugins: PluginRef, builtins: bool = True):
    """A :class:`core.plugins.PluginManager` with the built-ins (unless ``builtins=False``)
    and only ``plugins``; installed entry points are not loaded."""
    from core.plugins import DEFAULT_PLUGINS, PluginManager

    pm = PluginManager(load_entry_points=False, builtins=DEFAULT_PLUGINS if builtins else ())
    for ref in plugins:
        name, module, version = _resolve(ref)
        pm.register_module(module, name=name, version=version)
    return pm


def tiny_dataset(modality: str = "vector", task: str = "multiclass", n: int = 48,
                 shape: Optional[Sequence[int]] = None, seed: int = 0, vocab_size: int = 20):
    """A seeded :class:`core.LoadedDataset` of ``n`` samples split 50/25/25 (train/val/test),
    ``pretrain`` = train + val unlabelled. Labels carry signal (class-dependent mean or motif).

    Default shapes: vector (8,), sequence (2, 32), image (1, 8, 8), tokens (16,) with
    ``vocab_size`` ids (0 = padding).
    """
    import numpy as np

    from core.data import ArrayDataset, concat
    from core.specs import InputSpec, LoadedDataset, Task

    defaults = {"vector": (8,), "sequence": (2, 32), "image": (1, 8, 8), "tokens": (16,)}
    if modality not in defaults:
        raise ValueError(f"tiny_dataset supports {tuple(defaults)}, got {modality!r}")
    shape = tuple(shape or defaults[modality])
    rng = np.random.default_rng(seed)
    classes = {"multiclass": 3, "binary": 2, "multilabel": 3, "regression": 0}[task]
    if task == "multilabel":
        y = (rng.random((n, classes)) < 0.5).astype(np.int64)
        signal = y.sum(1).astype(np.float32)
    elif task == "regression":
        y = rng.normal(size=n).astype(np.float32)
        signal = y
    else:
        y = np.arange(n) % classes
        signal = y.astype(np.float32)
    if modality == "tokens":
        x = rng.integers(1, vocab_size, size=(n, *shape)).astype(np.int64)
        x[:, :3] = (np.round(signal).astype(np.int64) % (vocab_size - 1) + 1)[:, None]
        x[n // 2:, -2:] = 0  # some padding
        spec = InputSpec("tokens", shape, dtype="int64", vocab_size=vocab_size)
    else:
        x = rng.normal(size=(n, *shape)).astype(np.float32)
        x += signal.reshape(n, *([1] * len(shape)))
        spec = InputSpec(modality, shape)
    ids = [f"tiny-{i}" for i in range(n)]
    order = rng.permutation(n)
    cut = [order[: n // 2], order[n // 2: 3 * n // 4], order[3 * n // 4:]]
    full = ArrayDataset(x, y, ids)
    train, val, test = (full.subset(np.sort(c)) for c in cut)
    names = {"multiclass": ("c0", "c1", "c2"), "binary": ("no", "yes"), "multilabel": ("l0", "l1", "l2"),
             "regression": ()}[task]
    return LoadedDataset(splits={"pretrain": concat([train, val], labelled=False), "train": train, "val": val,
                                 "test": test}, input_spec=spec, task=Task(task, names),
                         name=f"tiny/{modality}", source="core.testing.tiny_dataset")


def check_contract(*plugins: PluginRef, data=None, **kwargs):
    """Check each plugin in its own isolated manager; returns the list of reports."""
    from core.contract import check_plugin

    reports = []
    for ref in plugins:
        name, module, version = _resolve(ref)
        pm = isolated_plugin_manager((name, module))
        pm.infos[name].version = version
        reports.append(check_plugin(pm, name, data=data, **kwargs))
    return reports


def assert_contract(*plugins: PluginRef, data=None, **kwargs):
    """Like :func:`check_contract` but raises :class:`core.contract.ContractError` (an
    ``AssertionError``) naming every failing spec; returns the single report or the list."""
    reports = check_contract(*plugins, data=data, **kwargs)
    for report in reports:
        report.raise_for_failures()
    return reports[0] if len(reports) == 1 else reports


# ----------------------------------------------------------------------------- the real CLI
TINY_RUN_ARGS = ["--epochs", "2", "--dim", "16", "--batch-size", "16", "--set", "k=2",
                 "--set", "candidates_per_slot=2", "--no-progress"]


def run_cli(*args, env: Optional[dict] = None, cwd=None, timeout: float = 900):
    """Run the real ``core`` command (``python -m core.cli ARGS``) in a subprocess."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def assert_ok(result):
    """The command exited 0 (else the tail of its output is shown)."""
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def assert_user_error(result, *needles: str) -> str:
    """The command failed as a user error: exit 2, one line, no traceback, naming each needle."""
    assert result.returncode == 2, result.stdout[-1000:] + result.stderr[-3000:]
    err = result.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def only_run_dir(out):
    """The single run folder a command made under ``out``."""
    from pathlib import Path

    dirs = [p for p in Path(out).iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def assert_transfer(plugin: str, labelled, other, unlabelled, out, *, unlabelled_size: int, other_size: int,
                    other_test: int, args: Sequence[str] = (), reader_args: Sequence[str] = (), cli=None):
    """Pretrain on ``unlabelled`` plus ``labelled`` (``core run --pretrain-data``), then probe the
    run on ``other`` (``core evaluate RUN --data``), through the real CLI, checking: the pool
    holds ``unlabelled_size`` records plus the labelled train+val inputs; the transfer folder's
    ``metrics.json`` has the three rows over ``other_size`` samples, ``other_test`` of them in
    test; the run's own ``metrics.json`` is untouched. ``args`` go to ``core run`` (default
    :data:`TINY_RUN_ARGS`), ``reader_args`` to both commands. Returns (run folder, transfer metrics)."""
    import json
    from pathlib import Path

    cli = cli or run_cli
    assert_ok(cli("run", "--plugin", plugin, "--data", labelled, "--pretrain-data", unlabelled, *reader_args,
                  "--out", out, *(args or TINY_RUN_ARGS)))
    run = only_run_dir(out)
    card = json.loads((run / "card.json").read_text())
    sizes = json.loads((run / "metrics.json").read_text())["dataset"]["sizes"]
    assert card["pretrain_size"] == unlabelled_size + sizes["train"] + sizes["val"], (card["pretrain_size"], sizes)
    before = (run / "metrics.json").read_bytes()
    result = assert_ok(cli("evaluate", run, "--data", other, *reader_args, "--no-progress"))
    assert "pretrained encoder" in result.stdout and "raw features" in result.stdout
    [folder] = (run / "transfer").iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"pretrained encoder", "random-init encoder", "raw features"}
    got = metrics["dataset"]["sizes"]
    assert sum(got[s] for s in ("train", "val", "test")) == other_size and got["test"] == other_test > 0, got
    assert Path(other).name in metrics["dataset"]["source"]
    assert (run / "metrics.json").read_bytes() == before  # the run itself is untouched
    return run, metrics


def assert_prepared_runs(plugin: str, unlabelled, labelled, out, *, unlabelled_size: int,
                         labelled_raw=None, prepare_args: Sequence[str] = (), run_args: Sequence[str] = (),
                         labelled_run_args: Sequence[str] = (), cli=None) -> tuple:
    """``core prepare`` then ``core run`` through the real CLI, both ways: the ``unlabelled``
    corpus prepared with ``--unlabelled`` and pretrained on (``--pretrain-data SHARDS --data
    labelled``; the pool holds ``unlabelled_size`` records plus the labelled train + val), and
    ``labelled_raw`` (default ``labelled``) prepared with its labels and run on as ``--data
    SHARDS``. ``prepare_args`` (reader flags) go to every command, ``run_args`` (default
    :data:`TINY_RUN_ARGS`) to both runs, ``labelled_run_args`` to the second. Each run writes
    its report. Returns the two runs' ``metrics.json``."""
    import json
    from pathlib import Path

    cli, out, run_args = cli or run_cli, Path(out), list(run_args or TINY_RUN_ARGS)
    pool, shards = out / "unlabelled-shards", out / "labelled-shards"
    assert_ok(cli("prepare", "--plugin", plugin, "--data", unlabelled, "--out", pool, "--unlabelled", *prepare_args))
    assert_ok(cli("run", "--plugin", plugin, "--pretrain-data", pool, "--data", labelled, "--out", out / "runs",
                  *prepare_args, *run_args))
    run = only_run_dir(out / "runs")
    first = json.loads((run / "metrics.json").read_text())
    sizes = first["dataset"]["sizes"]
    assert first["dataset"]["pretrain"]["records"] == unlabelled_size
    assert json.loads((run / "card.json").read_text())["pretrain_size"] == unlabelled_size + sizes["train"] + sizes["val"]
    assert (run / "report.md").is_file()
    assert_ok(cli("prepare", "--plugin", plugin, "--data", labelled_raw or labelled, "--out", shards, *prepare_args))
    assert_ok(cli("run", "--plugin", plugin, "--data", shards, "--out", out / "runs2", *labelled_run_args, *run_args))
    run = only_run_dir(out / "runs2")
    assert (run / "report.md").is_file()
    return first, json.loads((run / "metrics.json").read_text())


def paired_splits(shards, memory, splits: Sequence[str] = ("train", "val", "test", "pretrain")):
    """Yield ``(name, shards split, in-memory split)`` of two LoadedDatasets of one corpus (one
    opened from ``core prepare`` shards, one read in memory) after checking that their input
    spec, task, and each split's ids agree (and that each split is non-empty and labelled alike);
    the caller compares the model inputs its modality has."""
    assert shards.input_spec == memory.input_spec and shards.task == memory.task
    for name in splits:
        a, b = shards.splits[name], memory.splits[name]
        assert a.ids == b.ids and len(a) > 0, name
        assert (a.targets is None) == (b.targets is None), name
        yield name, a, b


DEFAULT_HEAVY = ("torch", "numpy", "scipy", "sklearn", "pandas")


def assert_entry_module_light(module: str, heavy: Sequence[str] = DEFAULT_HEAVY) -> None:
    """Import entry module ``module`` in a fresh interpreter and call each of its ``core_*`` hooks
    that takes no argument; fail if any module in ``heavy`` (or a submodule of one) was imported."""
    import json
    import subprocess
    import sys

    code = ("import inspect, json, sys, importlib\n"
            f"m = importlib.import_module({module!r})\n"
            "for name, f in vars(m).items():\n"
            "    if name.startswith('core_') and callable(f) and not inspect.signature(f).parameters:\n"
            "        f()\n"
            "print(json.dumps(sorted({k.split('.')[0] for k in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & set(heavy), f"{module} imports {sorted(loaded & set(heavy))} at import or in its hooks"


# ----------------------------------------------------------------------------- fuzzing
class TooSlow(AssertionError):
    """A call ran past the time bound :func:`assert_fails_cleanly` allows."""


def assert_fails_cleanly(call, *, seconds: float = 20.0, what: str = ""):
    """Run ``call()``: it must return (its value is returned) or raise a one-line
    :class:`core.errors.UserError`, within ``seconds`` of wall time (``SIGALRM``; main thread)."""
    import signal

    from core.errors import UserError

    def timeout(signum, frame):
        raise TooSlow(f"{what or call!r}: still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return call()
    except UserError as e:
        message = str(e)
        assert message.strip() and len(message.strip().splitlines()) == 1, f"{what}: not one line: {message!r}"
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def junk_text(valid: bytes):
    """Hypothesis strategy: ``valid`` text with a few characters inserted (line and cell separators,
    control characters, quotes, non-ASCII), what a spreadsheet or a careless edit leaves in a CSV."""
    from hypothesis import strategies as st

    def insert(args):
        where, text = args
        return valid[:where] + text.encode("utf-8") + valid[where:]

    alphabet = st.sampled_from(list('\x00\x0b\x0c\x1c\x85\u2028\r\n\t,;"\'é../ \\')) | st.characters()
    return st.tuples(st.integers(0, len(valid)), st.text(alphabet, min_size=1, max_size=6)).map(insert)


def fuzz_examples(default: int = 25) -> int:
    """Examples per fuzz property: ``CORE_FUZZ_EXAMPLES`` (``make fuzz`` sets a long profile), else ``default``."""
    import os

    return int(os.environ.get("CORE_FUZZ_EXAMPLES", default))


def damaged_bytes(valid: bytes, max_size: int = 4096):
    """Hypothesis strategy of inputs a careless or hostile user might give instead of ``valid``:
    random bytes, empty, truncations, a few bytes overwritten, another text encoding
    (UTF-16, Latin-1 with accents), and the valid file repeated or with a NUL inserted."""
    from hypothesis import strategies as st

    n = len(valid)

    def overwrite(args):
        where, junk = args
        where = min(where, n)
        return valid[:where] + junk + valid[where + len(junk):]

    def reencode(codec):
        text = valid.decode("utf-8", errors="replace")
        return (text.replace("a", "\u00e4") if codec == "latin-1" else text).encode(codec, errors="replace")

    return st.one_of(
        st.binary(max_size=max_size),
        st.just(b""),
        st.integers(0, max(n - 1, 0)).map(lambda k: valid[:k]),
        st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=16)).map(overwrite),
        st.sampled_from(["utf-16", "latin-1"]).map(reencode),
        st.integers(0, n).map(lambda k: valid[:k] + b"\x00" + valid[k:]),
        st.just(valid * 3),
    )


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def core_command():
    """Factory: ``core_command(*args, env=None, cwd=None, timeout=900)`` -> CompletedProcess."""
    return run_cli



@pytest.fixture
def core_plugin_manager():
    """Factory: ``core_plugin_manager(*plugins, builtins=True)`` -> isolated PluginManager."""
    return isolated_plugin_manager


@pytest.fixture
def core_tiny_dataset():
    """Factory: ``core_tiny_dataset(modality, task, n, shape, seed)`` -> LoadedDataset."""
    return tiny_dataset


@pytest.fixture
def core_check_contract():
    """Factory: ``core_check_contract(*plugins, data=None)`` fails the test on any broken spec."""

    def check(*plugins, data=None, **kwargs):
        from core.contract import ContractError

        try:
            return assert_contract(*plugins, data=data, **kwargs)
        except ContractError as e:
            pytest.fail(str(e), pytrace=False)

    return check
