"""Memory check for corpora larger than RAM (issue 14 item 4): `core prepare` + streamed `core run` under a cap.

Writes a synthetic PTB-XL-shaped unlabelled corpus (``x.npy``, default 21,837 x 12 x 5,000
float32 = 5.2 GB; seeded noise + a sine, written block by block through a memory map) and a
small labelled ``x.npy`` + ``y.npy`` corpus of the same shape, then measures, each in its own
subprocess:

* (a) ``core prepare --unlabelled`` peak RSS (``ru_maxrss`` of that child, from ``os.wait4``)
  against the acceptance's 3 GB;
* (b) ``core run --pretrain-data SHARDS --data SMALL --epochs 1`` under ``RLIMIT_DATA = --cap``
  (heap and private memory; memory-mapped files do not count): must pass;
* (c) the in-memory path ``core run --pretrain-data RAW`` under the same cap: must fail
  (MemoryError, or killed);
* (d) flatness: (b) at ``--flat N`` and 4N records under the same cap (pass/fail is the hard
  bound) with the peak RSS and the peak anonymous memory (``Pss_Anon`` summed over the process
  tree, sampled from ``/proc`` every 0.2 s: a lower bound of the true peak) compared as 4N / N.

Prints a table; ``--write-docs`` rewrites its section of docs/benchmarks.md (between the
memory_check markers). The corpora and shards are removed unless ``--keep``. Run with
``make memory-check`` (full size: tens of minutes, about 11 GB of disk).
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- memory_check:start -->", "<!-- memory_check:end -->"
GiB = 1 << 30
PREPARE_LIMIT_GB = 3.0  # the acceptance: core prepare peaks under 3 GB RSS
SHAPE = (12, 5000)
BLOCK_RECORDS = 256  # records per block the corpus writer holds in memory (61 MB at 12 x 5,000)
MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory",
                  "DefaultCPUAllocator: can't allocate memory")


# ----------------------------------------------------------------------------- corpora
def write_corpus(folder: Path, records: int, seed: int, classes: int = 0, shape=SHAPE) -> Path:
    """``folder/x.npy`` (records, *shape) float32: seeded noise plus a sine per record, written in
    blocks through ``open_memmap``; with ``classes`` also ``y.npy`` (class i has sine frequency
    i + 1, so the labels are learnable)."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(records, *shape))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, records) if classes else None
    t = np.linspace(0.0, 1.0, shape[-1], dtype=np.float32)
    for start in range(0, records, BLOCK_RECORDS):
        stop = min(start + BLOCK_RECORDS, records)
        freq = (y[start:stop] + 1.0) if classes else rng.uniform(0.5, 3.0, stop - start)
        phase = rng.uniform(0, 2 * np.pi, (stop - start, shape[0], 1))
        wave = np.sin(2 * np.pi * freq[:, None, None] * t * 5 + phase).astype(np.float32)
        x[start:stop] = wave + 0.5 * rng.standard_normal((stop - start, *shape), dtype=np.float32)
    x.flush()
    del x
    if classes:
        np.save(folder / "y.npy", y.astype(np.int64))
    return folder


# ----------------------------------------------------------------------------- measuring
@dataclass
class Measure:
    """One measured subprocess: exit status, how it ended, peak RSS and sampled peak anon (bytes)."""

    name: str
    records: int
    cap: Optional[int]  # RLIMIT_DATA in bytes, None = unlimited
    returncode: int
    peak_rss: int  # ru_maxrss of the child (largest process in its tree that it waited for)
    peak_anon: int  # largest sampled sum of Pss_Anon over the child's process tree
    seconds: float
    outcome: str  # "ok", "MemoryError", "killed (SIGKILL)", "exit N"
    tail: str = field(default="", repr=False)

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def _tree(pid: int) -> list:
    """``pid`` and its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _anon(pid: int) -> int:
    """Anonymous memory of ``pid``, shared copy-on-write pages split among the processes sharing
    them (``Pss_Anon`` of /proc/<pid>/smaps_rollup), so forked workers are not counted twice."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss_Anon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def outcome_of(returncode: int, output: str) -> str:
    """How a child ended: ``ok``, ``MemoryError`` (an allocation failure in its output), ``killed
    (SIGNAME)`` or ``exit N``."""
    import signal

    if returncode == 0:
        return "ok"
    if any(m in output for m in MEMORY_MARKERS):
        return "MemoryError"
    if returncode < 0:
        try:
            return f"killed ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"killed (signal {-returncode})"
    return f"exit {returncode}"


def measure(name: str, records: int, argv: list, cap: Optional[int], log: Path, nice: int = 10) -> Measure:
    """Run ``argv`` in a child under ``RLIMIT_DATA = cap`` (and ``nice``), polling its tree's anonymous memory."""
    def limit():
        os.nice(nice)
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit, env=env, cwd=REPO)
        peak, done = [0], threading.Event()

        def poll():
            while not done.is_set():
                peak[0] = max(peak[0], sum(_anon(p) for p in _tree(child.pid)))
                done.wait(0.2)

        sampler = threading.Thread(target=poll, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        done.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    text = log.read_text(errors="replace")
    return Measure(name, records, cap, child.returncode, usage.ru_maxrss * 1024, peak[0], seconds,
                   outcome_of(child.returncode, text), "\n".join(text.strip().splitlines()[-15:]))


def core_argv(*args) -> list:
    return [sys.executable, "-m", "core.cli", *map(str, args)]


# ----------------------------------------------------------------------------- report
def gb(n: Optional[int]) -> str:
    return "-" if n is None else f"{n / 1e9:.2f}"


def expectation(m: Measure) -> tuple:
    """``(expected, met)`` for a measurement named by its check letter."""
    kind = m.name.split()[0]
    if "core prepare" in m.name:
        return f"peak RSS < {PREPARE_LIMIT_GB:g} GB", m.passed and m.peak_rss < PREPARE_LIMIT_GB * 1e9
    if kind == "(c)":
        return "fails under the cap", not m.passed
    return "passes under the cap", m.passed


def render_table(rows: list, raw_bytes: dict) -> str:
    """A markdown table of the measurements (GB = 1e9 bytes), then the flatness ratios."""
    lines = ["| check | records | raw corpus GB | RLIMIT_DATA GB | outcome | peak RSS GB | peak anon GB | "
             "seconds | expected | met |",
             "|---|---:|---:|---:|---|---:|---:|---:|---|---|"]
    for m in rows:
        want, met = expectation(m)
        lines.append(f"| {m.name} | {m.records:,} | {gb(raw_bytes.get(m.records))} | {gb(m.cap)} | {m.outcome} | "
                     f"{gb(m.peak_rss)} | {gb(m.peak_anon)} | {m.seconds:.0f} | {want} | {'yes' if met else 'NO'} |")
    flat = [m for m in rows if m.name.startswith("(d) core run")]
    if len(flat) == 2:
        small, big = sorted(flat, key=lambda m: m.records)
        lines += ["", f"Flatness, {big.records:,} / {small.records:,} records "
                      f"({big.records / small.records:.0f}x the data): peak RSS "
                      f"{big.peak_rss / max(small.peak_rss, 1):.2f}x, peak anon "
                      f"{big.peak_anon / max(small.peak_anon, 1):.2f}x; "
                      f"{'both pass' if small.passed and big.passed else 'NOT both passing'} under the same cap."]
    return "\n".join(lines)


def render_section(table: str, command: str, notes: list) -> str:
    """The docs section between the memory_check markers."""
    return "\n".join(["## Memory: corpora larger than RAM (`benchmarks/memory_check.py`)", "",
                      "Synthetic PTB-XL-shaped `x.npy` corpora (12 x 5,000 float32 per record), each step a "
                      "subprocess. `RLIMIT_DATA` caps heap and private memory (memory-mapped shards and "
                      "`x.npy` do not count); peak RSS is the child's `ru_maxrss`; peak anon is the "
                      "largest sum of `Pss_Anon` over the child's process tree sampled every 0.2 s (a lower "
                      "bound). Flatness is judged by the same cap passing at N and 4N, with the ratios.", "",
                      f"Command: `{command}`", "", table, *([""] + notes if notes else [])])


def write_docs(section: str, doc: Path = DOC) -> None:
    """Replace the text between the memory_check markers (append the section when they are missing)."""
    from core.io import write_marked_section

    write_marked_section(doc, "memory_check", section)


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=21837, help="unlabelled records (default 21,837: PTB-XL)")
    ap.add_argument("--labelled", type=int, default=200, help="records of the small labelled corpus")
    ap.add_argument("--cap", type=float, default=2.0, help="RLIMIT_DATA of core run, GiB (default 2)")
    ap.add_argument("--batch-size", type=int, default=32,
                    help="core run --batch-size (default 32: at 12 x 5,000 a batch of 128 needs about 1.5 GB of "
                         "activations by itself, whatever the corpus size)")
    ap.add_argument("--flat", type=int, default=0, help="N for the flatness check at N and 4N (0: skip it)")
    ap.add_argument("--checks", default="abcd", help="which checks to run, e.g. a (prepare only)")
    ap.add_argument("--run-arg", action="append", default=[], metavar="ARG",
                    help="extra core run argument, repeatable (e.g. --run-arg=--dim --run-arg=16)")
    ap.add_argument("--workers", type=int, default=2, help="core prepare --num-workers (default 2)")
    ap.add_argument("--work", help="folder for corpora, shards and runs (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the corpora, shards and runs")
    ap.add_argument("--nice", type=int, default=10)
    ap.add_argument("--write-docs", action="store_true", help="rewrite its section of docs/benchmarks.md")
    ap.add_argument("--doc", default=str(DOC))
    args = ap.parse_args(argv)

    work = Path(args.work or tempfile.mkdtemp(prefix="memory_check-"))
    work.mkdir(parents=True, exist_ok=True)
    cap = int(args.cap * GiB)
    record_bytes = 4 * SHAPE[0] * SHAPE[1]
    raw_bytes, rows, notes = {}, [], []
    run_args = ["--epochs", "1", "--no-progress", "--batch-size", str(args.batch_size), *args.run_arg]

    def corpus(n: int) -> Path:
        folder = work / f"raw-{n}"
        if not (folder / "x.npy").is_file():
            print(f"writing {n:,} x {SHAPE} float32 ({n * record_bytes / 1e9:.2f} GB) to {folder}", flush=True)
            write_corpus(folder, n, seed=n)
        raw_bytes[n] = n * record_bytes
        return folder

    def shards(n: int, check: str) -> Path:
        out = work / f"shards-{n}"
        m = measure(f"{check} core prepare", n, core_argv("prepare", "--plugin", "ecg", "--data", corpus(n),
                                                         "--out", out, "--unlabelled", "--num-workers", args.workers),
                    None, work / f"prepare-{n}.log", args.nice)
        report(m)
        if not m.passed:
            raise SystemExit(f"core prepare failed:\n{m.tail}")
        return out

    def run(name: str, n: int, pretrain: Path) -> Measure:
        out = work / "runs"
        m = measure(name, n, core_argv("run", "--plugin", "ecg", "--pretrain-data", pretrain, "--data", small,
                                       "--pretrain-pool", "unlabelled", "--out", out, *run_args),
                    cap, work / f"{name.split()[0].strip('()')}-{n}.log", args.nice)
        report(m)
        return m

    def report(m: Measure) -> None:
        rows.append(m)
        print(f"{m.name} [{m.records:,} records]: {m.outcome}, peak RSS {gb(m.peak_rss)} GB, "
              f"peak anon {gb(m.peak_anon)} GB, {m.seconds:.0f} s", flush=True)
        if not expectation(m)[1]:
            print("  last lines:\n    " + m.tail.replace("\n", "\n    "), flush=True)

    try:
        small = work / "small"
        if not (small / "y.npy").is_file():
            write_corpus(small, args.labelled, seed=1, classes=2)
        checks = set(args.checks)
        if checks & {"a", "b"}:
            sharded = shards(args.records, "(a)") if "a" in checks else work / f"shards-{args.records}"
            if "b" in checks:
                run("(b) core run, shards", args.records, sharded)
        if "c" in checks:
            run("(c) core run, in memory", args.records, corpus(args.records))
        if "d" in checks and args.flat:
            for n in (args.flat, 4 * args.flat):
                done = [m for m in rows if m.name.startswith("(b)") and m.records == n]
                if done:  # (b) already measured this size under the same cap
                    rows.append(Measure("(d) core run, shards", n, cap, done[0].returncode, done[0].peak_rss,
                                        done[0].peak_anon, done[0].seconds, done[0].outcome, done[0].tail))
                else:
                    sharded = work / f"shards-{n}" if n == args.records and "a" in checks else shards(n, "(d)")
                    run("(d) core run, shards", n, sharded)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    notes.append(f"`core run` flags: `{' '.join(run_args)}` (the encoder's activations of a batch scale with "
                 f"the batch, not the corpus: at 12 x 5,000 a batch of 128 needs about 1.5 GB by itself).")
    command = "python benchmarks/memory_check.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = render_table(rows, raw_bytes)
    print("\n" + table)
    if args.write_docs:
        write_docs(render_section(table, command.replace(" --write-docs", ""), notes), Path(args.doc))
    return 0 if all(expectation(m)[1] for m in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
