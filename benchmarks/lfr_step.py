"""LFR step cost on the ECG default (ECG5000 pool, TS-TCC CNN, K=6) against the FLOP floor and
the released schedule, side by side in one run, at each embedding size D.

Per D (default 128 and 2560, the released code's ECG width):
(a) LFR encoder-phase step / supervised step of the same encoder and batch;
(b) one outer epoch (1 encoder epoch + pred_epochs predictor epochs) of our schedule, float32
    and with ``pred_precision=bf16``, vs a loop implementation of the released code's schedule
    (K separate modules, targets recomputed, encoder re-run in every predictor step);
(c) each phase's FLOPs (counted by torch.utils.flop_counter) and its time as a fraction of its
    FLOP floor at this machine's measured fp32 / bf16 matmul peak, plus the optimiser's share and
    the cost of writing the run's checkpoint.
Rounds interleave the alternatives (the machine is shared) and medians are reported.
``--profile`` prints torch.profiler top-op tables of one predictor step; ``--write-docs`` rewrites
this script's section of docs/benchmarks.md from the measured numbers.

Usage: python benchmarks/lfr_step.py [--dims 128,2560] [--repeats 3] [--profile] [--write-docs]
Never asserts times.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- lfr_step:start -->", "<!-- lfr_step:end -->"


def timed(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 7) -> float:
    """Median GFLOP/s of an n×n×n matmul in ``dtype`` (output preallocated)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    return 2 * n ** 3 / timed(lambda: torch.mm(a, b, out=out), repeats, warmup=2) / 1e9


def step_ceiling(k: int, dim: int, out_dim: int, batch: int, repeats: int = 7) -> dict:
    """A fp32 predictor step's two head GEMMs and its fused Adam step, each timed alone at the
    step's shapes (``z (B, D)``, stacked weight ``(K·d, D)``): what bounds the phase's % of floor
    even with nothing else in the step."""
    from core.training import adam
    from core.config import RunConfig

    n = k * out_dim
    z, g = torch.randn(batch, dim), torch.randn(batch, n) * 1e-3
    w = nn.Parameter(torch.randn(n, dim) * 0.01)
    h, grad = torch.empty(batch, n), torch.empty(n, dim)
    w.grad = grad
    opt = adam([w], RunConfig())
    return {"gemm_flops": 2 * batch * dim * n,
            "fwd": timed(lambda: torch.mm(z, w.detach().t(), out=h), repeats, warmup=2),
            "wgrad": timed(lambda: torch.mm(g.t(), z, out=grad), repeats, warmup=2),
            "adam": timed(opt.step, repeats, warmup=2)}


def flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


class TimedStep:
    """Wraps an optimiser's ``step`` to add up its time."""

    def __init__(self, optimizer):
        self.seconds, self._step = 0.0, optimizer.step
        optimizer.step = self

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self._step(*args, **kwargs)
        self.seconds += time.perf_counter() - t0
        return out


class TimedMirror:
    """Adds up the time of :class:`core.objectives.mirror_adam.MirrorAdam` steps (weight0's Adam
    under bf16, done outside ``optimizer.step``) so the optimiser row counts them too."""

    def __init__(self):
        from core.objectives.mirror_adam import MirrorAdam

        self.seconds, self._step = 0.0, MirrorAdam.step
        timer = self

        def step(mirror, *args, **kwargs):
            t0 = time.perf_counter()
            out = timer._step(mirror, *args, **kwargs)
            timer.seconds += time.perf_counter() - t0
            return out

        MirrorAdam.step = step


class Bench:
    """The ECG default at one D: data, builders and the measured alternatives."""

    def __init__(self, args, dim: int):
        from core.plugins import get_plugin_manager

        pm = get_plugin_manager()
        self.recipe = pm.recipe_for_plugin("ecg")
        self.data = pm.get("dataset", self.recipe.dataset).load(None, seed=0, on_bad_record="error", options={})
        self.pool = self.data.splits["pretrain"]
        self.spec, self.D, self.B, self.K, self.E = self.data.input_spec, dim, args.batch, args.k, args.pred_epochs
        self.enc_spec, self.proj_spec = pm.get("encoder", self.recipe.encoder), pm.get("projector", self.recipe.projector)
        self.x = torch.from_numpy(self.pool.x)
        self.batches = torch.randperm(len(self.pool), generator=torch.Generator().manual_seed(0)).split(self.B)

    def new_lfr(self, precision: str = "32", seed: int = 0):
        from core.config import RunConfig
        from core.objectives.lfr import build_lfr
        from core.training import adam, make_loader

        torch.manual_seed(seed)
        encoder = self.enc_spec.build(self.spec, self.D)
        params = {"k": self.K, "pred_epochs": self.E, "pred_precision": precision}
        lfr = build_lfr(self.spec, self.D, params, lambda n, d: self.proj_spec.build(self.spec, n, d),
                        sample=self.x[:256])
        lfr.prepare(encoder, make_loader(self.pool, 256), "cpu")
        cfg = RunConfig()
        return encoder, lfr, adam(list(encoder.parameters()), cfg), adam(lfr.inner_parameters(), cfg)

    # -- our schedule, phase by phase -------------------------------------------------
    def encoder_phase(self, state) -> None:
        enc, lfr, opt_e, _ = state
        enc.train()
        for batch in self.batches:
            loss = lfr.encoder_loss(enc(self.x[batch]), None, batch)
            opt_e.zero_grad()
            loss.backward()
            opt_e.step()

    def embed(self, state) -> torch.Tensor:
        enc = state[0]
        enc.eval()
        with torch.no_grad():
            z = torch.cat([enc(c) for c in self.x.split(256)])
        enc.train()
        return z

    def predictor_phase(self, state, z) -> None:
        _, lfr, _, opt_p = state
        lfr.inner_phase(z, torch.arange(len(self.pool)), opt_p, self.B, torch.Generator().manual_seed(0))

    def outer_epoch(self, state) -> dict:
        """One outer epoch of ours; seconds per part."""
        t0 = time.perf_counter()
        self.encoder_phase(state)
        t1 = time.perf_counter()
        z = self.embed(state)
        t2 = time.perf_counter()
        self.predictor_phase(state, z)
        t3 = time.perf_counter()
        return {"encoder": t1 - t0, "embed": t2 - t1, "predictor": t3 - t2, "epoch": t3 - t0}

    # -- the released schedule ----------------------------------------------------------
    def new_released(self):
        from core.objectives.reference import unstack_bank, unstack_predictors

        enc, lfr, _, _ = self.new_lfr()
        predictors = unstack_predictors(lfr.predictors)
        return (enc, unstack_bank(lfr.bank), predictors, torch.optim.Adam(enc.parameters(), lr=3e-4),
                torch.optim.Adam(predictors.parameters(), lr=3e-4))

    def released_epoch(self, state) -> None:
        from core.objectives.reference import released_outer_epoch

        enc, projectors, predictors, opt_e, opt_p = state
        released_outer_epoch(enc, projectors, predictors, [self.x[b] for b in self.batches], opt_e, opt_p,
                             pred_epochs=self.E)

    # -- FLOPs --------------------------------------------------------------------------
    def phase_flops(self, state) -> dict:
        """FLOPs of one outer epoch's phases (all ops) and of their predictor-head GEMMs."""
        enc, lfr, _, _ = state
        snapshot = {k: v.clone() for k, v in lfr.predictors.state_dict().items()}
        enc_state = {k: v.clone() for k, v in enc.state_dict().items()}

        def enc_phase():
            for batch in self.batches:
                lfr.encoder_loss(enc(self.x[batch]), None, batch).backward()

        out = {"encoder": flops(enc_phase)}
        z = self.embed(state)
        out["embed"] = flops(lambda: self.embed(state))
        opt = torch.optim.SGD(lfr.inner_parameters(), lr=0.0)
        out["predictor"] = flops(lambda: lfr.inner_phase(z, torch.arange(len(self.pool)), opt, self.B,
                                                         torch.Generator().manual_seed(0)))
        lfr.predictors.load_state_dict(snapshot)
        enc.load_state_dict(enc_state)
        enc.zero_grad(set_to_none=True)
        head = 2 * lfr.predictors.weight0.numel() * len(self.pool)  # one (N, D) x (D, K·H) pass
        out["encoder_heads"], out["predictor_heads"] = 2 * head, 2 * head * self.E  # fwd+dgrad / fwd+wgrad
        return out

    def supervised_vs_lfr_step(self, repeats: int) -> tuple:
        enc, lfr, opt_enc, _ = self.new_lfr()
        xb, idx = self.x[: self.B], torch.arange(self.B)
        classes = len(self.data.task.class_names)
        yb = torch.as_tensor(self.data.splits["train"].targets[: self.B] % classes).long()
        head = nn.Linear(self.D, classes)
        opt_sup = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=3e-4, fused=True)

        def supervised_step():
            loss = nn.functional.cross_entropy(head(enc(xb)), yb)
            opt_sup.zero_grad()
            loss.backward()
            opt_sup.step()

        def lfr_step():
            loss = lfr.encoder_loss(enc(xb), xb, idx)
            opt_enc.zero_grad()
            loss.backward()
            opt_enc.step()

        sup, step = [], []
        for _ in range(3):
            sup.append(timed(supervised_step, repeats))
            step.append(timed(lfr_step, repeats))
        return statistics.median(sup), statistics.median(step)

    def checkpoint_seconds(self, state) -> tuple:
        """Seconds and bytes to write what ``last.ckpt`` holds (weights and both optimisers' state)."""
        enc, lfr, opt_e, opt_p = state
        ckpt = {"state_dict": {**{f"encoder.{k}": v for k, v in enc.state_dict().items()},
                               **{f"objective.{k}": v for k, v in lfr.state_dict().items()}},
                "optimizer_states": [opt_e.state_dict(), opt_p.state_dict()]}
        with tempfile.TemporaryDirectory() as folder:
            path, tmp = Path(folder) / "last.ckpt", Path(folder) / ".last.ckpt.tmp"

            def write():
                torch.save(ckpt, tmp)
                os.replace(tmp, path)

            seconds = timed(write, 3)
            return seconds, path.stat().st_size


def measure(args, dim: int, peaks: dict) -> dict:
    bench = Bench(args, dim)
    res = {"D": dim, "pool": len(bench.pool)}
    res["t_sup"], res["t_step"] = bench.supervised_vs_lfr_step(args.repeats)
    ours = {p: bench.new_lfr(p) for p in ("32", "bf16")}
    timers = {p: TimedStep(ours[p][3]) for p in ours}
    enc_timers = {p: TimedStep(ours[p][2]) for p in ours}
    released = bench.new_released()
    parts = {p: [] for p in ours}
    optimiser = {p: [] for p in ours}
    rel = []
    for p in ours:  # warm up
        bench.outer_epoch(ours[p])
    bench.released_epoch(released)
    mirror = TimedMirror()
    for _ in range(args.repeats):  # interleaved rounds
        for p in ours:
            timers[p].seconds = enc_timers[p].seconds = mirror.seconds = 0.0
            parts[p].append(bench.outer_epoch(ours[p]))
            optimiser[p].append(timers[p].seconds + enc_timers[p].seconds + mirror.seconds)
        t0 = time.perf_counter()
        bench.released_epoch(released)
        rel.append(time.perf_counter() - t0)
    res["released"] = statistics.median(rel)
    for p in ours:
        res[p] = {k: statistics.median(r[k] for r in parts[p]) for k in parts[p][0]}
        res[p]["optimiser"] = statistics.median(optimiser[p])
    res["flops"] = bench.phase_flops(ours["32"])
    res["ceiling"] = step_ceiling(args.k, dim, dim, args.batch)
    res["ckpt_s"], res["ckpt_bytes"] = bench.checkpoint_seconds(ours["32"])
    if args.profile:
        res["profiles"] = {p: profile_step(bench, ours[p]) for p in ours}
    res["encoder"] = bench.recipe.encoder
    return res


def profile_step(bench: Bench, state) -> str:
    """torch.profiler top ops (self CPU time) of one predictor epoch."""
    from torch.profiler import ProfilerActivity, profile

    z = bench.embed(state)
    _, lfr, _, opt_p = state
    cfg = lfr.config
    object.__setattr__(cfg, "pred_epochs", 1)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            bench.predictor_phase(state, z)
    finally:
        object.__setattr__(cfg, "pred_epochs", bench.E)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)


def floor_fraction(res: dict, part: str, precision: str, peaks: dict) -> float:
    """FLOP floor / measured time of a phase: head GEMM FLOPs at the precision's peak, the rest at fp32's."""
    f = res["flops"]
    heads = f[f"{part}_heads"]
    peak = peaks["bf16"] if precision == "bf16" else peaks["32"]
    floor = heads / (peak * 1e9) + (f[part] - heads) / (peaks["32"] * 1e9)
    return floor / res[precision][part]


def report(results: list, peaks: dict, args, threads: int) -> str:
    lines = []
    r0 = results[0]
    lines.append(f"ECG default: ECG5000 pretrain pool ({r0['pool']} beats × 140 samples), `{r0['encoder']}` encoder, "
                 f"K = {args.k} random Conv1d projectors (d = D), 1-layer predictors, batch {args.batch}, "
                 f"`pred_epochs` = {args.pred_epochs}, fused Adam. {os.cpu_count()} CPU cores (torch threads = "
                 f"{threads}), {datetime.date.today().isoformat()}; medians of {args.repeats} interleaved rounds.")
    lines.append("")
    lines.append(f"Measured matmul peak (2048³, this run): **fp32 {peaks['32']:.0f} GFLOP/s, "
                 f"bf16 {peaks['bf16']:.0f} GFLOP/s**.")
    lines.append("")
    lines.append("| D | supervised step (ms) | LFR encoder-phase step (ms) | ratio (goal ≤ 1.5) |")
    lines.append("|---:|---:|---:|---:|")
    for r in results:
        lines.append(f"| {r['D']} | {r['t_sup']*1e3:.1f} | {r['t_step']*1e3:.1f} | {r['t_step']/r['t_sup']:.2f} |")
    lines.append("")
    lines.append("Outer epoch (1 encoder epoch + embedding the pool + predictor epochs), ours vs the loop "
                 "implementation of the released schedule, measured side by side:")
    lines.append("")
    lines.append("| D | released loop (s) | ours fp32 (s) | speed-up fp32 (goal ≥ 2) | ours bf16 (s) | "
                 "speed-up bf16 | bf16 vs fp32 (goal ≥ 2) |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        a, b = r["32"]["epoch"], r["bf16"]["epoch"]
        lines.append(f"| {r['D']} | {r['released']:.2f} | {a:.2f} | {r['released']/a:.2f}× | {b:.2f} | "
                     f"{r['released']/b:.2f}× | {a/b:.2f}× |")
    lines.append("")
    lines.append("Where an outer epoch of ours goes: each phase's FLOPs (all ops, counted by "
                 "`torch.utils.flop_counter`), time, and FLOP floor / time (head GEMMs at the precision's "
                 "peak, the rest at fp32's); the optimiser steps (both phases) and one `last.ckpt` write:")
    lines.append("")
    lines.append("| D | precision | phase | GFLOP | time (s) | % of floor |")
    lines.append("|---:|---|---|---:|---:|---:|")
    for r in results:
        for p in ("32", "bf16"):
            for part in ("encoder", "embed", "predictor"):
                frac = floor_fraction(r, part, p, peaks) if part != "embed" else (
                    r["flops"]["embed"] / (peaks["32"] * 1e9)) / r[p]["embed"]
                lines.append(f"| {r['D']} | {'fp32' if p == '32' else 'bf16'} | {part} | "
                             f"{r['flops'][part]/1e9:.2f} | {r[p][part]:.3f} | {100*frac:.0f} % |")
            lines.append(f"| {r['D']} | {'fp32' if p == '32' else 'bf16'} | optimiser steps (in the above) | | "
                         f"{r[p]['optimiser']:.3f} | |")
    lines.append("")
    lines.append("What bounds the fp32 predictor phase: one step's two head GEMMs and its fused Adam step, each "
                 "timed alone at the step's shapes; the bound is the % of floor a step would reach if it were "
                 "nothing but these three:")
    lines.append("")
    lines.append("| D | forward GEMM (ms) | weight-gradient GEMM (ms) | GEMMs' speed, % of the 2048³ peak | "
                 "Adam step (ms) | bound: GEMMs + Adam only | measured predictor phase |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        c = r["ceiling"]
        floor = 2 * c["gemm_flops"] / (peaks["32"] * 1e9)
        gemm_pct = 100 * floor / (c["fwd"] + c["wgrad"])
        bound = 100 * floor / (c["fwd"] + c["wgrad"] + c["adam"])
        lines.append(f"| {r['D']} | {c['fwd']*1e3:.1f} | {c['wgrad']*1e3:.1f} | {gemm_pct:.0f} % | "
                     f"{c['adam']*1e3:.1f} | {bound:.0f} % | {100*floor_fraction(r, 'predictor', '32', peaks):.0f} % |")
    lines.append("")
    lines.append("| D | checkpoint size (MB) | one write (s) | share of an fp32 outer epoch if written every epoch |")
    lines.append("|---:|---:|---:|---:|")
    for r in results:
        lines.append(f"| {r['D']} | {r['ckpt_bytes']/1e6:.0f} | {r['ckpt_s']:.2f} | "
                     f"{100*r['ckpt_s']/(r['32']['epoch']+r['ckpt_s']):.0f} % |")
    return "\n".join(lines)


def write_docs(table: str, command: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    body = (f"{START}\n## LFR step cost (`benchmarks/lfr_step.py`)\n\n"
            f"Written by `{command}` from its measurements (never typed by hand); rerun it to refresh.\n\n"
            f"{table}\n\n{NOTES}\n{END}")
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: body, text, flags=re.S)
    else:
        old = re.search(r"## LFR step cost \(`benchmarks/lfr_step.py`\).*?(?=\n## )", text, flags=re.S)
        text = text.replace(old.group(0), body + "\n") if old else text.rstrip() + "\n\n" + body + "\n"
    DOCS.write_text(text, encoding="utf-8")


NOTES = """How our schedule differs from the released one: targets are cached once (the released code
recomputes the K projectors every batch), the predictor epochs run on embeddings computed once
per outer epoch (the released code re-runs the encoder forward and backward in every predictor
step), and the K heads are one stacked GEMM. A predictor step writes the first-layer weight
gradient by one GEMM into a buffer kept from phase to phase (`core/objectives/predictor_step.py`;
autograd would map and unmap a fresh weight-sized tensor every step, and every fresh buffer
page-faults in on its first GEMM) and Adam is torch's fused kernel (`core.training.adam`).
On CPU the loss's elementwise terms and their backward run through `torch.compile` when K·B·d
is large (`core/objectives/target_loss.py`; D = 2560 here, not D = 128). `pred_precision=bf16`
runs the heads' GEMMs in bfloat16 on a cached copy of the float32 weights (AVX512-BF16/AMX
CPUs, GPUs); the loss and Adam stay float32, and the
first-layer weight's Adam step reads the bf16 gradient and writes weight, moments and the bf16
copy in one compiled pass (`core/objectives/mirror_adam.py`, counted in the optimiser row).
`last.ckpt` is written every `--checkpoint-minutes` (default 5), mid-epoch included, and after
the last epoch, in a background thread (Lightning's `AsyncCheckpointIO`): the table's write
time is what a synchronous write would cost."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dims", default="128,2560", help="comma-separated embedding sizes")
    ap.add_argument("--dim", type=int, help="one embedding size (overrides --dims)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--pred-epochs", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="print torch.profiler top ops of a predictor epoch")
    ap.add_argument("--write-docs", action="store_true", help=f"rewrite this script's section of {DOCS.name}")
    args = ap.parse_args()
    dims = [args.dim] if args.dim else [int(d) for d in args.dims.split(",")]
    peaks = {"32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    results = []
    for dim in dims:
        results.append(measure(args, dim, peaks))
        print(f"D={dim} done", flush=True)
    peaks = {"32": max(peaks["32"], matmul_peak(torch.float32)),  # again: the load may have changed
             "bf16": max(peaks["bf16"], matmul_peak(torch.bfloat16))}
    table = report(results, peaks, args, torch.get_num_threads())
    print(table)
    for r in results:
        for p, text in r.get("profiles", {}).items():
            print(f"\ntorch.profiler, one predictor epoch, D={r['D']}, pred_precision={p}:\n{text}")
    if args.write_docs:
        command = "python benchmarks/lfr_step.py --write-docs" + (f" --dims {args.dims}" if not args.dim else "")
        write_docs(table, command)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
