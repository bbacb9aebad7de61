"""Numerical checks of the fused Triton LFR loss against the float64 torch reference.

Run by ``tests/test_kernels.py`` in a subprocess with ``TRITON_INTERPRET=1`` (CPU tensors; the
variable must be set before triton defines the kernels, hence the separate process), and by
``benchmarks/gpu_check.sh`` on a CUDA machine without the interpreter::

    TRITON_INTERPRET=1 python tests/kernel_checks.py --device cpu --json out.json
    python tests/kernel_checks.py --device cuda --large

Each check compares the kernel's loss value and its gradient with respect to the predictions
with :func:`core.objectives.barlow.barlow_batchwise` evaluated in float64 on the same (rounded)
inputs. Errors are relative: |Δloss|/|loss| and ‖Δgrad‖/‖grad‖ (plus the max elementwise error
over the max |grad|). Prints one line per check and exits 1 if any fails.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

TOL = {"float32": 1e-4, "bfloat16": 1e-2}
# (K, B, d): non-multiples of the interpreter's 16-row tiles and 32-wide chunks, B > d, B < d,
# B == d, exact tiles, tiny B / tiny d
SHAPES = [(2, 37, 20), (2, 20, 45), (1, 16, 32), (2, 5, 50), (2, 41, 5), (2, 33, 33)]
# per shape: both algorithms in float32 whatever the regime, and the auto choice in bfloat16
VARIANTS = [("float32", "bxb", "sum"), ("float32", "gram", "mean"), ("bfloat16", "auto", "sum"),
            ("bfloat16", "auto", "mean")]
LARGE = [(6, 256, 2048), (10, 4096, 64), (6, 128, 256), (6, 1024, 512), (4, 300, 130), (3, 130, 300)]


def case_names(large: bool = False) -> list[str]:
    """Every check's name, in order (importable without torch/triton)."""
    names = []
    for i, (k, b, d) in enumerate(SHAPES + (LARGE if large else [])):
        for dtype, form, red in _variants(i):
            names.append(f"{dtype}-K{k}-B{b}-d{d}-{form}-{red}")
    names += ["strided-bxb", "strided-gram", "zero-row-bxb", "zero-row-gram", "lambd0-gram", "lambd0-bxb",
              "targets-constant", "no-grad-forward", "lfr-dispatch-float32", "lfr-dispatch-bf16-autocast",
              "lfr-inner-phase", "plugin-ecg-lfr-fused"]
    return names


def _variants(i: int) -> list:
    return VARIANTS[:3] if i % 2 == 0 else VARIANTS[:2] + VARIANTS[3:]  # bf16 reductions alternate


def _rel(a, b):
    return (a - b).norm().item() / max(b.norm().item(), 1e-30)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--large", action="store_true", help="also the benchmark shapes (GPU)")
    ap.add_argument("--seed", type=int, default=None, help="default: fresh (printed)")
    args = ap.parse_args(argv)

    import torch

    from core.objectives import kernels
    from core.objectives.barlow import barlow_batchwise

    dev = torch.device(args.device)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    gen = torch.Generator().manual_seed(seed)
    results = []

    def randn(*shape):
        return torch.randn(*shape, generator=gen)

    def compare(name, pred, target, dtype_name, lambd=0.05, reduction="sum", form="auto", tol=None):
        p = pred.to(dev).requires_grad_(True)
        loss = kernels.barlow_batchwise_triton(p, target.to(dev), lambd, reduction, form)
        (g,) = torch.autograd.grad(loss, p)
        p64 = pred.detach().double().requires_grad_(True)
        ref = barlow_batchwise(p64, target.double(), lambd, reduction, form)
        (g64,) = torch.autograd.grad(ref, p64)
        g = g.double().cpu()
        value_err = abs(loss.item() - ref.item()) / max(abs(ref.item()), 1e-30)
        grad_err = _rel(g, g64)
        max_err = (g - g64).abs().max().item() / max(g64.abs().max().item(), 1e-30)
        tol = tol or TOL[dtype_name]
        ok = value_err <= tol and grad_err <= tol and max_err <= 10 * tol and loss.dtype == torch.float32
        return dict(value_err=value_err, grad_err=grad_err, max_err=max_err, tol=tol, ok=ok)

    def run(name, fn):
        t0 = time.perf_counter()
        try:
            out = fn()
        except Exception as e:  # a crash is a failed check, reported with its traceback
            out = dict(ok=False, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc())
        out.update(name=name, seed=seed, seconds=round(time.perf_counter() - t0, 3))
        results.append(out)
        errs = " ".join(f"{k}={out[k]:.2e}" for k in ("value_err", "grad_err", "max_err") if k in out)
        print(f"{'ok  ' if out['ok'] else 'FAIL'} {name:38s} {errs} {out.get('error', '')} ({out['seconds']:.2f}s)",
              flush=True)

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    for i, (k, b, d) in enumerate(SHAPES + (LARGE if args.large else [])):
        for dname, form, red in _variants(i):
            dtype = dtypes[dname]
            run(f"{dname}-K{k}-B{b}-d{d}-{form}-{red}",
                lambda: compare(None, randn(k, b, d).to(dtype), randn(k, b, d).to(dtype), dname,
                                lambd=0.01 if form == "auto" else 0.05, reduction=red, form=form))

    def strided(form):  # (B, K, d) storage viewed as (K, B, d), as LFR's heads and cached targets are
        pred, target = randn(23, 3, 18).transpose(0, 1), randn(23, 3, 18).transpose(0, 1)
        out = compare(None, pred, target, "float32", form=form)
        assert pred.stride(-1) == 1 and not pred.is_contiguous()
        return out

    run("strided-bxb", lambda: strided("bxb"))
    run("strided-gram", lambda: strided("gram"))

    def zero_row(form):  # a prediction row with norm < eps: p̂ = p/eps, gradient without projection
        pred, target = randn(2, 19, 21), randn(2, 19, 21)
        pred[1, 4] = 0.0
        pred[0, 7] = 1e-10
        return compare(None, pred, target, "float32", form=form)

    run("zero-row-bxb", lambda: zero_row("bxb"))
    run("zero-row-gram", lambda: zero_row("gram"))
    run("lambd0-gram", lambda: compare(None, randn(2, 30, 12), randn(2, 30, 12), "float32", lambd=0.0, form="gram"))
    run("lambd0-bxb", lambda: compare(None, randn(2, 12, 30), randn(2, 12, 30), "float32", lambd=0.0, form="bxb"))

    def targets_constant():
        p = randn(2, 20, 17).to(dev).requires_grad_(True)
        y = randn(2, 20, 17).to(dev).requires_grad_(True)
        kernels.barlow_batchwise_triton(p, y).backward()
        return dict(ok=y.grad is None and p.grad is not None and bool(torch.isfinite(p.grad).all()))

    run("targets-constant", targets_constant)

    def no_grad_forward():
        p, y = randn(2, 40, 9), randn(2, 40, 9)
        with torch.no_grad():
            value = kernels.barlow_batchwise_triton(p.to(dev), y.to(dev))
        ref = barlow_batchwise(p.double(), y.double())
        err = abs(value.item() - ref.item()) / abs(ref.item())
        return dict(value_err=err, ok=err < 1e-4 and not value.requires_grad)

    run("no-grad-forward", no_grad_forward)

    # the LFR objective's dispatch (loss_impl) and the plugin-provided variant
    from core.objectives.lfr import build_lfr
    from core.projectors import MLPBank
    from core.specs import InputSpec

    def lfr_pair(**cfg):
        spec, x = InputSpec("vector", (10,)), randn(48, 10)
        out = []
        for impl in ("triton", "torch"):
            torch.manual_seed(0)
            lfr = build_lfr(spec, 6, {"k": 3, "candidates_per_slot": 2, "loss_impl": impl, **cfg},
                            lambda n, d: MLPBank(10, n, d, hidden=8), x).to(dev)
            lfr.targets = lfr.bank(x.to(dev)).transpose(0, 1).contiguous()
            out.append(lfr)
        return out

    def lfr_dispatch(autocast):
        fused, ref = lfr_pair(proj_dim=5, pred_layers=2, pred_hidden=8)
        assert fused.target_loss.uses_triton(torch.zeros(1, device=dev)) and not ref.target_loss.uses_triton(torch.zeros(1, device=dev))
        z0, index = randn(32, 6), torch.randperm(48, generator=gen)[:32]
        vals, grads = [], []
        for lfr in (fused, ref):
            z = z0.to(dev).requires_grad_(True)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
                loss = lfr.encoder_loss(z, None, index)
            (g,) = torch.autograd.grad(loss, z)
            vals.append(loss.detach().double().cpu())
            grads.append(g.double().cpu())
        tol = 1e-2 if autocast else 1e-4
        value_err = (abs(vals[0] - vals[1]) / abs(vals[1])).item()
        grad_err = _rel(grads[0], grads[1])
        return dict(value_err=value_err, grad_err=grad_err, tol=tol, ok=value_err <= tol and grad_err <= tol)

    run("lfr-dispatch-float32", lambda: lfr_dispatch(False))
    run("lfr-dispatch-bf16-autocast", lambda: lfr_dispatch(True))

    def lfr_inner_phase():
        fused, ref = lfr_pair(pred_epochs=1)
        emb, index = randn(48, 6).to(dev), torch.arange(48)
        means = []
        for lfr in (fused, ref):
            opt = torch.optim.SGD(lfr.inner_parameters(), lr=0.05)
            means.append(lfr.inner_phase(emb, index, opt, batch_size=24, generator=torch.Generator().manual_seed(1)))
        w_err = _rel(fused.predictors.weight0.detach().double().cpu(), ref.predictors.weight0.detach().double().cpu())
        value_err = abs(means[0] - means[1]) / abs(means[1])
        return dict(value_err=value_err, grad_err=w_err, ok=value_err < 1e-4 and w_err < 1e-4)

    run("lfr-inner-phase", lfr_inner_phase)

    def plugin_variant():
        from core.plugins import get_plugin_manager

        pm = get_plugin_manager()
        if "ecg/lfr-fused" not in pm.names("objective"):  # plugin not pip-installed (GPU box): register it
            import importlib

            pm.register_module(importlib.import_module("core_ecg.plugin"), name="ecg")
        spec = InputSpec("sequence", (1, 64))
        x = randn(40, 1, 64)
        built = {}
        for name in ("ecg/lfr-fused", "core/lfr"):
            torch.manual_seed(0)
            built[name] = pm.get("objective", name).build(
                spec, 8, {"k": 2, "candidates_per_slot": 2}, projector=pm.get("projector", "ecg/conv1d"),
                sample=x, seed=3).to(dev)
        fused, ref = built["ecg/lfr-fused"], built["core/lfr"]
        assert fused.config.loss_impl == "triton" and ref.config.loss_impl == "auto"
        z, index = randn(40, 8).to(dev), torch.arange(40)
        vals = []
        for lfr in (fused, ref):
            lfr.targets = lfr.bank(x.to(dev)).transpose(0, 1).contiguous()
            vals.append(lfr.encoder_loss(z, None, index).item())
        err = abs(vals[0] - vals[1]) / abs(vals[1])
        return dict(value_err=err, ok=err < 1e-4)

    run("plugin-ecg-lfr-fused", plugin_variant)

    failed = [r["name"] for r in results if not r["ok"]]
    print(f"seed {seed}: {len(results) - len(failed)}/{len(results)} checks passed on {dev}"
          f"{' (TRITON_INTERPRET=1)' if kernels.INTERPRET else ''}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": seed, "interpret": kernels.INTERPRET, "device": str(dev), "results": results}, f,
                      indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
