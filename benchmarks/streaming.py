"""Streaming from `core prepare` shards against the in-memory path, side by side in one run.

On a synthetic ECG-shaped corpus that fits in memory (``--records`` × 12 × ``--length``
float32, written as ``x.npy``, prepared once with ``core prepare --unlabelled``):

(a) samples per second of one shuffled epoch of the pretrain pool, batch 128: the in-memory
    array split (``ecg/records`` read into RAM) vs the shards read with random access
    (``shuffle=True``) vs the shards read chunk by chunk (:class:`core.sampling.EpochSampler`);
(b) samples per second of one LFR training epoch (loader + encoder-phase steps) for the same
    three loaders: what a run sees;
(c) the LFR encoder-phase step (TS-TCC CNN, K=6 Conv1d projectors) with targets cached once vs
    recomputed per batch from the frozen bank (``target_cache=off``, what a pool too large to
    cache uses).

Rounds interleave the alternatives (the machine is shared); medians are reported as ratios.
``--write-docs`` rewrites this script's section of docs/benchmarks.md. Never asserts times.

Usage: python benchmarks/streaming.py [--records 2000] [--length 1000] [--repeats 3] [--write-docs]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_corpus(folder: Path, records: int, length: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(records, 12, length))
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 10, length, dtype=np.float32)
    for i in range(0, records, 256):
        n = min(256, records - i)
        x[i:i + n] = np.sin(t * rng.uniform(1, 3, (n, 12, 1))).astype(np.float32) + 0.1 * rng.standard_normal(
            (n, 12, length), dtype=np.float32)
    x.flush()
    return folder


def epoch_rate(dataset, sampler=None, shuffle=False, batch: int = 128) -> float:
    """Samples per second of one pass of a DataLoader over ``dataset``."""
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch, shuffle=shuffle, sampler=sampler)
    started, n = time.perf_counter(), 0
    for x, _, _ in loader:
        n += len(x)
    return n / (time.perf_counter() - started)


def lfr_step(pool, input_spec, target_cache: str = "on"):
    """``(step(x, index), lfr)``: one LFR encoder-phase step of the ECG default encoder on a batch."""
    from core.objectives.lfr import build_lfr
    from core.plugins import get_plugin_manager
    from core.projectors import projector_build
    from core.training import make_loader

    pm = get_plugin_manager()
    torch.manual_seed(0)
    encoder = pm.get("encoder", "ecg/cnn").build(input_spec, 128)
    sample = next(iter(make_loader(pool, 64)))[0]
    lfr = build_lfr(input_spec, 128, {"target_cache": target_cache},
                    projector_build(pm.get("projector", "ecg/conv1d"), input_spec), sample=sample)
    lfr.prepare(encoder, make_loader(pool, 256), "cpu")
    opt = torch.optim.Adam(encoder.parameters(), lr=3e-4)

    def step(x, index):
        loss = lfr.encoder_loss(encoder(x), x, index)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def training_rate(dataset, step, sampler=None, shuffle=False, batch: int = 128) -> float:
    """Samples per second of one training epoch: loading plus an encoder step per batch."""
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch, shuffle=shuffle, sampler=sampler, drop_last=True)
    started, n = time.perf_counter(), 0
    for x, _, index in loader:
        step(x, index)
        n += len(x)
    return n / (time.perf_counter() - started)


def step_times(pool, input_spec, repeats: int) -> dict:
    """Median seconds of one LFR encoder step (forward, loss, backward, Adam) per target mode."""
    from core.training import make_loader

    x, _, index = next(iter(make_loader(pool, 128, shuffle=True)))
    out = {mode: [lfr_step(pool, input_spec, mode), []] for mode in ("on", "off")}
    for _ in range(repeats):  # interleaved
        for mode, (step, times) in out.items():
            started = time.perf_counter()
            step(x, index)
            times.append(time.perf_counter() - started)
    return {mode: statistics.median(times) for mode, (_, times) in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    from core.sampling import EpochSampler
    from core.shards import open_shards
    from core_ecg.datasets import load_records

    with tempfile.TemporaryDirectory() as tmp:
        raw = write_corpus(Path(tmp) / "raw", args.records, args.length)
        shards = Path(tmp) / "shards"
        subprocess.run([sys.executable, "-m", "core.cli", "prepare", "--plugin", "ecg", "--data", str(raw),
                        "--out", str(shards), "--unlabelled"], check=True, capture_output=True)
        memory = load_records(str(raw), unlabelled=True).splits["pretrain"]
        streamed = open_shards(shards, unlabelled=True).splits["pretrain"]
        rates = {"in memory": [], "shards, random access": [], "shards, chunk by chunk": []}
        for r in range(args.repeats):
            rates["in memory"].append(epoch_rate(memory, shuffle=True))
            rates["shards, random access"].append(epoch_rate(streamed, shuffle=True))
            sampler = EpochSampler(streamed, seed=0)
            sampler.set_epoch(r)
            rates["shards, chunk by chunk"].append(epoch_rate(streamed, sampler=sampler))
        rate = {k: statistics.median(v) for k, v in rates.items()}
        step = lfr_step(memory, streamed.input_spec)
        train = {"in memory": training_rate(memory, step, shuffle=True),
                 "shards, random access": training_rate(streamed, step, shuffle=True),
                 "shards, chunk by chunk": training_rate(streamed, step, sampler=EpochSampler(streamed, seed=0))}
        steps = step_times(memory, streamed.input_spec, args.repeats)
    base = rate["in memory"]
    lines = [f"{args.records} records × 12 × {args.length} float32 ({args.records * 12 * args.length * 4 / 2**20:.0f} MB), "
             f"batch 128, torch threads {torch.get_num_threads()}, median of {args.repeats} interleaved rounds.", "",
             "| epoch of the pretrain pool | samples/s | vs in memory |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:,.0f} | {v / base:.2f}× |" for k, v in rate.items()]
    lines += ["", "| LFR training epoch (loader + encoder steps) | samples/s | vs in memory |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:,.1f} | {v / train['in memory']:.2f}× |" for k, v in train.items()]
    lines += ["", "| LFR encoder step (TS-TCC CNN, K=6, batch 128) | seconds | vs cached |", "|---|---:|---:|",
              f"| targets cached once | {steps['on']:.3f} | 1.00× |",
              f"| targets recomputed per batch (`target_cache=off`) | {steps['off']:.3f} | "
              f"{steps['off'] / steps['on']:.2f}× |"]
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        from core.io import write_marked_section

        write_marked_section(DOCS, "streaming", "## Streaming from shards (`benchmarks/streaming.py`)\n\n"
                             f"`python benchmarks/streaming.py --records {args.records} --length {args.length} "
                             f"--write-docs`:\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
