"""Does ``pred_precision=bf16`` keep the ECG default's probe accuracy? (issue 16's equal-accuracy check)

Runs ``core run --plugin ecg --seeds N`` twice, float32 and bf16 predictor GEMMs, same seeds and
settings otherwise, and prints each probe's test accuracy per seed, the mean and the difference
(goal: |bf16 − fp32| <= 0.005 on the mean). Minutes per run on 2 CPU cores; it is a script, not
a test, because ``make test`` should stay short. Extra arguments go to ``core run`` (e.g.
``--dim 2560 --epochs 3``).

Usage: python benchmarks/lfr_bf16_accuracy.py [--seeds 3] [--write-docs] [-- core run flags ...]
(``--write-docs`` rewrites its section of docs/benchmarks.md.)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL = 0.005
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def run(precision: str, seeds: int, extra: list, out: Path) -> dict:
    folder = out / precision
    cmd = [sys.executable, "-m", "core.cli", "run", "--plugin", "ecg", "--seeds", str(seeds), "--no-progress",
           "--set", f"pred_precision={precision}", "--out", str(folder), *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    (run_dir,) = [p for p in folder.iterdir() if p.is_dir()]
    per_seed = json.loads((run_dir / "metrics.json").read_text())["per_seed"]
    return {seed: {k: v for k, v in r["pretrained"].items() if k.endswith("/accuracy")} for seed, r in per_seed.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--write-docs", action="store_true", help="rewrite its section of docs/benchmarks.md")
    ap.add_argument("extra", nargs="*", help="flags for core run (after --)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {p: run(p, args.seeds, args.extra, Path(tmp)) for p in ("32", "bf16")}
    probes = sorted(next(iter(results["32"].values())))
    lines = [f"ECG default, {args.seeds} seeds, core run flags: {' '.join(args.extra) or '(none)'}", "",
             "| probe | fp32 per seed | bf16 per seed | fp32 mean | bf16 mean | bf16 − fp32 | within 0.005 |",
             "|---|---|---|---:|---:|---:|---|"]
    for probe in probes:
        a = [results["32"][s][probe] for s in sorted(results["32"])]
        b = [results["bf16"][s][probe] for s in sorted(results["bf16"])]
        diff = statistics.mean(b) - statistics.mean(a)
        lines.append(f"| {probe} | {', '.join(f'{v:.3f}' for v in a)} | {', '.join(f'{v:.3f}' for v in b)} | "
                     f"{statistics.mean(a):.4f} | {statistics.mean(b):.4f} | {diff:+.4f} | "
                     f"{'yes' if abs(diff) <= GOAL else 'no'} |")
    print("\n".join(lines))
    if args.write_docs:
        from core.io import write_marked_section

        write_marked_section(DOC, "lfr_bf16_accuracy", "`python benchmarks/lfr_bf16_accuracy.py --seeds "
                             f"{args.seeds}`: probe accuracy with float32 and bfloat16 predictor GEMMs.\n\n"
                             + "\n".join(lines), "\n## bf16 predictor GEMMs: accuracy\n")


if __name__ == "__main__":
    main()
