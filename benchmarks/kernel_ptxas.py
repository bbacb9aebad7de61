"""Compile the fused LFR loss kernels for a GPU architecture on a machine WITHOUT a GPU.

Ahead-of-time check (Triton front end -> PTX -> ptxas with the ptxas bundled in the triton
wheel): every kernel of :mod:`core.objectives.kernels` with the fixed configs it launches on
CUDA, for float32 and bfloat16 operands and unit last strides, compiles for sm_90 (H100/H200);
prints registers and spill bytes per kernel. It checks that the compiled (non-interpreter)
code path builds; it does not run it. About a minute on 2 CPU cores.

Usage: python benchmarks/kernel_ptxas.py [--arch 90] [--b 1024] [--d 512]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", type=int, default=90)
    ap.add_argument("--b", type=int, default=1024, help="batch used to pick the tile configs")
    ap.add_argument("--d", type=int, default=512, help="width used to pick the tile configs")
    args = ap.parse_args(argv)
    os.environ.pop("TRITON_INTERPRET", None)
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from core.objectives import kernels as K

    target = GPUTarget("cuda", args.arch, 32)
    ptxas = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
    failed = 0

    def build(fn, types, constexprs, options, label):
        nonlocal failed
        constexprs = {**{n: 1 for n in ("sp_d", "sy_d", "su_d", "sg_d") if n in fn.arg_names}, **constexprs}
        signature = {n: ("constexpr" if n in constexprs else types[n]) for n in fn.arg_names}
        cx = {(fn.arg_names.index(n),): v for n, v in constexprs.items()}
        try:
            kernel = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=cx), target=target,
                                    options=options)
        except Exception as e:  # report and go on with the others
            failed += 1
            print(f"FAIL {label}: {type(e).__name__}: {str(e)[:2000]}")
            return
        info = ""
        if ptxas.exists():
            with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
                f.write(kernel.asm["ptx"])
            out = subprocess.run([str(ptxas), "-v", f"--gpu-name=sm_{args.arch}a" if args.arch >= 90 else
                                  f"--gpu-name=sm_{args.arch}", f.name, "-o", os.devnull], capture_output=True, text=True)
            os.unlink(f.name)
            info = " | ".join(line.split("info    : ")[-1].strip() for line in out.stderr.splitlines()
                              if "registers" in line or "spill" in line)
        print(f"ok   {label:48s} {info}", flush=True)

    for name, tdt in (("fp32", tl.float32), ("bf16", tl.bfloat16)):
        ptr = f"*{name}"
        types = dict(P=ptr, Y=ptr, G=ptr, PN="*fp32", RY="*fp32", CD="*fp32", DPART="*fp32", OPART="*fp32",
                     GO="*fp32", U="*fp32", M="*fp32", V="*fp32", OUT="*fp32", ND="i32", NO="i32",
                     B="i32", D="i32", lambd="fp32", eps="fp32",
                     scale="fp32", **{s: "i32" for s in ("sp_k", "sp_b", "sy_k", "sy_b", "su_k", "su_b", "sg_k", "sg_b")})
        wide = name != "fp32"
        dot = dict(DOT_DTYPE=tdt, UPCAST=False, PRECISION="ieee" if not wide else "tf32")
        for kname, fn, extra in (("row", K._row_stats, dict(SUB_DIAG=True)), ("bxb_fwd", K._bxb_fwd, dot),
                                 ("bxb_bwd", K._bxb_bwd, dot), ("gram_m", K._gram_m, dot),
                                 ("gram_v", K._gram_v, dict(STORE_V=True, **dot)), ("gram_bwd", K._gram_bwd, {})):
            cfg = K._configs("row" if kname == "gram_bwd" else kname, args.b, args.d, wide)
            options = {k: cfg[k] for k in ("num_warps", "num_stages") if k in cfg}
            blocks = {k: v for k, v in cfg.items() if k.startswith("BLOCK")}
            build(fn, types, {**extra, **blocks}, options, f"{kname} {name} {blocks} {options}")
    build(K._finish, types, dict(BLOCK=1024), {"num_warps": 4}, "finish")
    print(f"{'all kernels compiled' if not failed else f'{failed} kernel(s) failed'} for sm_{args.arch}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
