"""Fused Triton LFR loss vs the torch path, and a whole LFR encoder-phase step vs a supervised step (GPU).

(1) The batch-wise Barlow loss over K targets at (K, B, d) = (6, 256, 2048), (10, 4096, 64),
    (6, 128, 256), (6, 1024, 512): median time of the torch path (``LFR.loss`` with
    ``loss_impl="torch"``: inputs upcast to float32, ``form="auto"``) and of the fused kernel
    (``loss_impl="triton"``: inputs as they are), forward and forward+backward, with the
    nominal FLOP rate (FLOPs of the torch algorithm of that form: bxb 2KB²d forward, 6KB²d
    forward+backward; gram 4KBd² forward, 6KBd² forward+backward), the bandwidth over the
    minimal traffic (read predictions and targets, write the gradient) and the peak extra
    device memory of one forward+backward. Goal: fused ≥ 2× the torch path at (6, 1024, 512)
    forward+backward.
(2) One encoder-phase step of the ECG default (ECG5000 pool, TS-TCC CNN, D=128, K=6, d=D,
    batch 128, Adam) with each loss implementation (and, with ``--compile-heads``, the predictor
    heads under ``torch.compile`` default / reduce-overhead = CUDA graphs) against a supervised
    step of the same encoder and batch, in float32 and under bf16 autocast. Goal: ≤ 1.3×.

Usage: python benchmarks/loss_kernel.py [--dtypes float32,bfloat16] [--rep-ms 200] [--no-step]
       [--compile-heads] [--batch 128]
Needs CUDA; on a machine without it prints a message and exits 0. Never asserts times.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

SHAPES = [(6, 256, 2048), (10, 4096, 64), (6, 128, 256), (6, 1024, 512)]
REPO = Path(__file__).resolve().parents[1]


def _bench(fn, rep_ms: int, grad_to_none=None) -> float:
    from triton.testing import do_bench

    return do_bench(fn, warmup=max(10, rep_ms // 4), rep=rep_ms, grad_to_none=grad_to_none, return_mode="median")


def _peak_mib(fn) -> float:
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def loss_table(dtypes, rep_ms: int) -> list[str]:
    from core.objectives.kernels import barlow_batchwise_triton
    from core.objectives.barlow import barlow_batchwise

    lines = ["| (K, B, d) | dtype | form | pass | torch ms | fused ms | speedup | fused TFLOP/s | torch TFLOP/s "
             "| fused GB/s | peak MiB torch / fused | rel. diff |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, b, d in SHAPES:
        form = "gram" if d < b else "bxb"
        for dname in dtypes:
            dtype = getattr(torch, dname)
            g = torch.Generator(device="cuda").manual_seed(0)
            pred = torch.randn(k, b, d, device="cuda", generator=g).to(dtype).requires_grad_(True)
            target = torch.randn(k, b, d, device="cuda", generator=g).to(dtype)

            def ref():
                return barlow_batchwise(pred.float(), target.float())

            def fused():
                return barlow_batchwise_triton(pred, target)

            a, f = ref(), fused()
            diff = abs(a.item() - f.item()) / abs(a.item())
            isz = pred.element_size()
            for name, flops, nbytes in (
                    ("fwd", (2 * b * b * d if form == "bxb" else 4 * b * d * d) * k, 2 * k * b * d * isz),
                    ("fwd+bwd", (6 * b * b * d if form == "bxb" else 6 * b * d * d) * k, 3 * k * b * d * isz)):
                if name == "fwd":
                    t_ref, t_fused = _bench(ref, rep_ms), _bench(fused, rep_ms)
                    peaks = ""
                else:
                    t_ref = _bench(lambda: ref().backward(), rep_ms, grad_to_none=[pred])
                    t_fused = _bench(lambda: fused().backward(), rep_ms, grad_to_none=[pred])
                    peaks = f"{_peak_mib(lambda: ref().backward()):.1f} / {_peak_mib(lambda: fused().backward()):.1f}"
                lines.append(f"| ({k}, {b}, {d}) | {dname} | {form} | {name} | {t_ref:.4f} | {t_fused:.4f} | "
                             f"{t_ref / t_fused:.2f}x | {flops / t_fused / 1e9:.1f} | {flops / t_ref / 1e9:.1f} | "
                             f"{nbytes / t_fused / 1e6:.0f} | {peaks} | {diff:.1e} |")
                print(lines[-1], flush=True)
            pred.grad = None
    return lines


def step_table(rep_ms: int, batch: int, compile_heads: bool) -> list[str]:
    sys.path.insert(0, str(REPO / "plugins" / "ecg"))
    from torch import nn

    from core.objectives.lfr import build_lfr
    from core.training import make_loader
    from core_ecg.datasets import load_ecg5000
    from core_ecg.encoders import build_cnn
    from core_ecg.projectors import build_conv1d_bank

    data = load_ecg5000(None, seed=0)
    pool, spec = data.splits["pretrain"], data.input_spec
    dim, k = 128, 6
    x_all = torch.from_numpy(pool.x)
    torch.manual_seed(0)
    encoder = build_cnn(spec, dim).cuda()
    head = nn.Linear(dim, 5).cuda()
    xb = x_all[:batch].cuda()
    idx = torch.arange(batch)
    yb = torch.randint(0, 5, (batch,), device="cuda")
    opt_sup = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=3e-4)
    opt_enc = torch.optim.Adam(encoder.parameters(), lr=3e-4)

    variants = [("torch", "off"), ("triton", "off")]
    if compile_heads:
        variants += [("triton", "default"), ("triton", "reduce-overhead")]
    objectives = {}
    for impl, mode in variants:
        lfr = build_lfr(spec, dim, {"k": k, "loss_impl": impl, "pred_compile": mode},
                        lambda n, d: build_conv1d_bank(spec, n, d), sample=x_all[:256]).cuda()
        lfr.prepare(encoder, make_loader(pool, 256), "cuda")
        objectives[(impl, mode)] = lfr

    def supervised_step():
        loss = nn.functional.cross_entropy(head(encoder(xb)), yb)
        opt_sup.zero_grad(set_to_none=True)
        loss.backward()
        opt_sup.step()

    def lfr_step(lfr):
        def step():
            loss = lfr.encoder_loss(encoder(xb), xb, idx)
            opt_enc.zero_grad(set_to_none=True)
            loss.backward()
            opt_enc.step()
        return step

    lines = [f"ECG default on GPU: ecg/cnn D={dim}, K={k}, d={dim}, batch {batch}, pool {len(pool)}", "",
             "| precision | step | ms | ratio to supervised |", "|---|---|---:|---:|"]
    for precision in ("float32", "bf16 autocast"):
        enabled = precision != "float32"

        def timed(fn):
            def run():
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled):
                    fn()
            run()  # compile / warm caches outside the timing
            return _bench(run, rep_ms)

        t_sup = timed(supervised_step)
        lines.append(f"| {precision} | supervised (CE, same encoder) | {t_sup:.3f} | 1.00 |")
        print(lines[-1], flush=True)
        for (impl, mode), lfr in objectives.items():
            t = timed(lfr_step(lfr))
            lines.append(f"| {precision} | LFR encoder phase, loss {impl}, heads {mode} | {t:.3f} | {t / t_sup:.2f} |")
            print(lines[-1], flush=True)
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--rep-ms", type=int, default=200, help="timing window per measurement (do_bench rep)")
    ap.add_argument("--no-step", action="store_true", help="skip the encoder-phase step table")
    ap.add_argument("--compile-heads", action="store_true", help="also time torch.compile'd predictor heads")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--out", help="also write the tables (markdown) to this file")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device: benchmarks/loss_kernel.py measures the fused Triton loss on a GPU; nothing measured")
        return 0
    sys.path.insert(0, str(REPO))
    import triton

    props = torch.cuda.get_device_properties(0)
    head = [f"{props.name}, torch {torch.__version__}, triton {triton.__version__}, "
            f"TF32 matmul {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}", ""]
    print("\n".join(head), flush=True)
    lines = head + loss_table([d.strip() for d in args.dtypes.split(",") if d.strip()], args.rep_ms)
    if not args.no_step:
        lines += [""] + step_table(args.rep_ms, args.batch, args.compile_heads)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
