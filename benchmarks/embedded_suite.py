"""Every embedded dataset of every installed plugin: LFR against both floors, 3 seeds.

For each plugin with a default recipe, and each embedded dataset that plugin registers (not
only the recipe's default), this runs the real CLI,
``core run --plugin P --dataset D --seeds N --no-progress``, reads the run's ``metrics.json``
and rewrites the text between ``<!-- embedded_suite:start -->`` and
``<!-- embedded_suite:end -->`` in docs/benchmarks.md: the primary metric of every probe
(mean ± std over seeds) for the pretrained encoder, the random-init encoder and the raw
features, and whether LFR beats the random-init floor. Nothing is typed by hand. Runs are kept
in ``--out`` and reused on the next call (delete a run folder to redo it).

Usage:
    python benchmarks/embedded_suite.py                        # everything, 3 seeds
    python benchmarks/embedded_suite.py --plugins ecg molecule --seeds 3
    python benchmarks/embedded_suite.py --write-docs           # also rewrite docs/benchmarks.md
    python benchmarks/embedded_suite.py -- --steps 200         # extra `core run` flags
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- embedded_suite:start -->", "<!-- embedded_suite:end -->"
ROWS = (("pretrained encoder", "LFR"), ("random-init encoder", "random-init"), ("raw features", "raw"))


def embedded_datasets(plugins=None) -> list[tuple[str, str]]:
    """``[(plugin, dataset)]``: every embedded dataset of each plugin with a default recipe."""
    from core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    recipes = set(pm.names("recipe"))
    out = []
    for p in pm.plugins():
        if p.name == "core" or p.error or f"{p.name}/default" not in recipes or (plugins and p.name not in plugins):
            continue
        names = [n for n in pm.names("dataset") if n.startswith(f"{p.name}/") and pm.get("dataset", n).embedded]
        default = pm.get("recipe", f"{p.name}/default").dataset
        out += [(p.name, n) for n in sorted(names, key=lambda n: (n != default, n))]
    return out


def run_one(plugin: str, dataset: str, seeds: int, out: Path, extra: list) -> tuple:
    """``(metrics.json content or None, error line, seconds)`` of one run, reusing a finished one."""
    folder = out / dataset.replace("/", "-")
    done = sorted(folder.glob("*/metrics.json"))
    if done:
        return json.loads(done[-1].read_text()), "", None
    cmd = [sys.executable, "-m", "core.cli", "run", "--plugin", plugin, "--dataset", dataset, "--seeds", str(seeds),
           "--no-progress", "--out", str(folder), *extra]
    print("$", " ".join(cmd[2:]), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, text=True, capture_output=True)
    seconds = time.perf_counter() - started
    made = sorted(folder.glob("*/metrics.json"))
    if proc.returncode != 0 or not made:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit code {proc.returncode}", seconds
    return json.loads(made[-1].read_text()), "", seconds


def cell(summary: dict, key: str) -> str:
    value = summary.get(key)
    if not value or value["mean"] != value["mean"]:
        return "n/a"
    return f"{value['mean']:.3f} ± {value['std']:.3f}"


def probe_keys(metrics: dict) -> list:
    """``evaluator/primary`` keys of the pretrained row (``linear/accuracy``, ``knn/r2``, ...)."""
    primary = metrics["primary_metric"]
    return [k for k in metrics["summary"]["pretrained encoder"] if k.split("/", 1)[1] == primary]


def table(results: list) -> str:
    """Markdown: one row per dataset and probe, then a count of LFR > random-init."""
    lines = ["| dataset | probe | metric | LFR | random-init | raw | LFR > random-init | LFR ≥ raw |",
             "|---|---|---|---:|---:|---:|:---:|:---:|"]
    wins = total = first_wins = first_total = 0
    for dataset, metrics, error in results:
        if metrics is None:
            lines.append(f"| {dataset} | | | failed: {error} | | | | |")
            continue
        s = metrics["summary"]
        for i, key in enumerate(probe_keys(metrics)):
            means = [s[row].get(key, {}).get("mean", float("nan")) for row, _ in ROWS]
            beats = means[0] > means[1]
            wins, total = wins + beats, total + 1
            if i == 0:  # the report's first probe: the dataset's primary metric as the issue counts it
                first_wins, first_total = first_wins + beats, first_total + 1
            lines.append(f"| {dataset} | {key.split('/')[0]} | {key.split('/')[1]} | "
                         + " | ".join(cell(s[row], key) for row, _ in ROWS)
                         + f" | {'yes' if beats else 'no'} | {'yes' if means[0] >= means[2] else 'no'} |")
    seeds = {len(m["seeds"]) for _, m, _ in results if m}
    lines += ["", f"LFR above the random-init encoder in {wins} of {total} dataset × probe rows "
                  f"(mean over {', '.join(map(str, sorted(seeds)))} seeds; each probe's hyper-parameters chosen "
                  f"without test, as in `core run`); on each dataset's first probe, {first_wins} of "
                  f"{first_total} datasets."]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    from core.io import write_marked_section

    write_marked_section(DOC, "embedded_suite", "## Every embedded dataset\n\n`python benchmarks/embedded_suite.py "
                         "--write-docs` (every plugin's embedded datasets, default recipe, 3 seeds):\n\n" + text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugins", nargs="*")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "embedded_suite")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("extra", nargs="*", help="extra `core run` flags after --")
    args = parser.parse_args(argv)
    results = []
    for plugin, dataset in embedded_datasets(args.plugins):
        metrics, error, seconds = run_one(plugin, dataset, args.seeds, args.out, args.extra)
        if seconds is not None:
            print(f"{dataset}: {'ok' if metrics else 'failed: ' + error} in {seconds:.0f} s", flush=True)
        results.append((dataset, metrics, error))
    text = table(results)
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
