"""Regenerate the `core bench` section of docs/benchmarks.md for every installed plugin.

For each plugin with a default recipe (``<plugin>/default``) this runs the real CLI,
``core bench --plugin NAME --seeds N``, reads the ``bench.json`` it writes and rewrites the
text between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in docs/benchmarks.md (added
at the end when the markers are missing). Every number in that section comes from a bench
folder; nothing is typed by hand. The rest of the page is left as it is.

Usage:
    python benchmarks/bench_all.py                       # every plugin, 3 seeds (minutes per plugin)
    python benchmarks/bench_all.py --plugins ecg --seeds 3
    python benchmarks/bench_all.py --from runs/bench/2026...-bench-ecg-ecg5000   # reuse finished benches
    python benchmarks/bench_all.py -- --budget-minutes 10                       # extra `core bench` flags
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
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def landed_plugins() -> list[str]:
    """Installed plugins (not the core) that load and have a default recipe."""
    from core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    recipes = set(pm.names("recipe"))
    return [p.name for p in pm.plugins() if p.name != "core" and not p.error and f"{p.name}/default" in recipes]


def run_bench(plugin: str, seeds: int, out: Path, extra: list[str]) -> tuple[dict | None, str]:
    """Run ``core bench`` for one plugin; returns (bench.json content or None, error text)."""
    before = set(out.glob(f"*-bench-{plugin}-*")) if out.exists() else set()
    cmd = [sys.executable, "-m", "core.cli", "bench", "--plugin", plugin, "--seeds", str(seeds), "--out", str(out),
           *extra]
    print("$", " ".join(cmd[2:]), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, text=True, stdout=sys.stdout, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    sys.stderr.write(proc.stderr[-4000:])
    made = sorted(set(out.glob(f"*-bench-{plugin}-*")) - before)
    if proc.returncode != 0 or not made or not (made[-1] / "bench.json").exists():
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return None, (lines[-1] if lines else f"exit code {proc.returncode}")
    result = json.loads((made[-1] / "bench.json").read_text())
    result["command_seconds"] = round(elapsed, 1)
    return result, ""


def plugin_section(plugin: str, result: dict | None, error: str = "") -> str:
    from core import bench_report

    if result is None:
        return f"### {plugin}\n\n`core bench --plugin {plugin}` failed: {error}\n"
    machine = result.get("machine", {})
    minutes = result.get("command_seconds", result.get("wall_seconds"))
    info = result.get("dataset_info", {})
    sizes = info.get("sizes", {})
    lines = [
        f"### {plugin}: {result['dataset']} with {result['encoder']} (dim {result['dim']})", "",
        f"`core bench --plugin {plugin} --seeds {len(result['seeds'])}`; {result['date']}; "
        f"{machine.get('cpus')} CPUs (torch threads {machine.get('torch_threads')})"
        + (f", GPU {machine['cuda']}" if machine.get("cuda") else "")
        + (f"; {minutes / 60:.1f} min in all" if minutes else "") + ".",
        f"Split sizes: pretrain {sizes.get('pretrain')}, train {sizes.get('train')}, val {sizes.get('val')}, "
        f"test {sizes.get('test')}. Budget: {bench_report.budget_text(result)}.", "",
        bench_report.bench_table(result),
    ]
    if bench_report.headline(result):
        lines += [f"**{bench_report.headline(result)}**", ""]
    lines += [f"- {n}" for n in result.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"


def render(sections: list[str]) -> str:
    head = ("## LFR against baselines (`core bench`)\n\n"
            "Written by `benchmarks/bench_all.py` from `core bench` output (no hand-typed numbers); "
            "rerun it to refresh. Every objective trains the same encoder architecture from the same "
            "seeded initialisation on the plugin's embedded default data; frozen embeddings are probed "
            "(regularisation chosen on val, scored on test); mean ± std over seeds. The rank is by the "
            "first probe's primary metric among label-free rows; `supervised (labels)` is the "
            "reference trained on the train split's labels (not ranked). Floors: the encoder at its random init, and the raw input features.\n")
    return "\n".join([START, head] + sections + [END])


def write_doc(text: str, doc: Path = DOC) -> None:
    from core.io import atomic_write_text

    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if START in current and END in current:
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1]
        new = before + text + after
    else:
        new = current.rstrip() + "\n\n" + text + "\n"
    atomic_write_text(doc, new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plugins", help="comma-separated plugins (default: every installed plugin with a recipe)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "runs" / "bench"), help="where the bench folders go")
    ap.add_argument("--from", dest="existing", nargs="+", metavar="BENCH_DIR",
                    help="finished bench folders to use instead of running core bench")
    ap.add_argument("--doc", default=str(DOC))
    args, extra = ap.parse_known_args(argv)
    extra = [e for e in extra if e != "--"]
    sections = []
    if args.existing:
        for folder in args.existing:
            result = json.loads((Path(folder) / "bench.json").read_text())
            sections.append(plugin_section(result["plugin"], result))
    else:
        plugins = [p for p in (args.plugins or "").split(",") if p] or landed_plugins()
        for plugin in plugins:
            result, error = run_bench(plugin, args.seeds, Path(args.out), extra)
            sections.append(plugin_section(plugin, result, error))
    write_doc(render(sections), Path(args.doc))
    print(f"wrote the bench section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
