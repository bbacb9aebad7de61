"""Fused Triton kernels for the K-target batch-wise Barlow loss (docs/design.md#lfr).

Same value and gradient as :func:`core.objectives.barlow.barlow_batchwise` for ``(K, B, d)``
predictions and targets (row-normalised, C = P̂Ŷᵀ, ℓ = Σ(Cᵢᵢ−1)² + λΣ_{i≠j}Cᵢⱼ², mean over
K, ``sum``/``mean`` reduction, ``auto``/``bxb``/``gram`` form), without the B×B matrix C ever
being written to device memory. Only the prediction side gets a gradient (targets are
constants). Inputs may be float32, bfloat16 or float16 and any strides with a unit last
stride (others are copied); all sums are accumulated in float32.

Passes (per target k, all K targets in one launch each):

1. ``_row_stats``: one pass over the rows: ‖pᵢ‖, 1/‖yᵢ‖ and the diagonal
   Cᵢᵢ = ⟨pᵢ,yᵢ⟩/(‖pᵢ‖‖yᵢ‖), plus per-program partial sums of the diagonal part
   Σ(Cᵢᵢ−1)² (− λΣCᵢᵢ² in the gram form). Row normalisation is never materialised: the
   GEMMs run on the raw rows and the tiles are rescaled by the inverse norms.
2. the off-diagonal part, by form:

   * ``bxb`` (d ≥ B by ``auto``): ``_bxb_fwd`` computes one BM×BN tile of C per program with
     ``tl.dot`` over d in BK chunks, rescales it, masks the diagonal and the padding and writes
     the tile's Σ Cᵢⱼ² as a partial. ``_bxb_bwd`` (flash style) recomputes the tiles of one
     row block against every column block, forms Gᵢⱼ = 2λCᵢⱼ, accumulates
     uᵢ = Σⱼ Gᵢⱼŷⱼ (BM×d, float32, in the gradient buffer/scratch owned by the program) and
     sᵢ = Σⱼ GᵢⱼCᵢⱼ in registers, then adds the diagonal term and applies the
     normalisation Jacobian ∂ℓ/∂pᵢ = (uᵢ − sᵢp̂ᵢ)/‖pᵢ‖ in place.
   * ``gram`` (d < B by ``auto``): Σ_{i,j}Cᵢⱼ² = ⟨P̂ᵀP̂, ŶᵀŶ⟩ = Σᵢ p̂ᵢ·(p̂ᵢM) with
     M = ŶᵀŶ (d×d). ``_gram_m`` computes M (upper block triangle, mirrored),
     ``_gram_v`` computes V = P̂M tile by tile and the partial Σ p̂∘V; V is kept for the
     backward because ∂Σ Cᵢⱼ²/∂p̂ᵢ = 2Vᵢ, so ``_gram_bwd`` is a single row pass. Nothing
     larger than d×d or B×d is stored.

3. ``_finish``: the scalar (Σ diagonal partials + λ Σ off-diagonal partials) / K (/ B) in one
   program; the partial buffers are written one slot per program (no atomics: deterministic).

Under ``TRITON_INTERPRET=1`` (set before this module is imported) the kernels run on CPU
tensors with fixed small tiles and no autotune; the interpreter of Triton 3.x multiplies
the raw storage of bfloat16 operands in ``tl.dot``, so there bfloat16 tiles are rounded to
bfloat16 and then upcast to float32 before the dot (same rounding as the tensor-core path).
On CUDA, ``CORE_TRITON_AUTOTUNE=1`` (read at import) autotunes the tile sizes; otherwise fixed
configs are used. float32 dots use IEEE fp32 unless torch allows TF32 for matmuls
(``torch.backends.cuda.matmul.allow_tf32``), matching what ``torch.bmm`` does.
"""
from __future__ import annotations

import contextlib
import os

import torch
import triton
import triton.language as tl

from core.objectives.barlow import EPS, check_barlow_args, uses_gram_form

__all__ = ["INTERPRET", "AUTOTUNE", "barlow_batchwise_triton", "check_supported", "EPS"]

INTERPRET = bool(triton.knobs.runtime.interpret) if hasattr(triton, "knobs") else \
    os.environ.get("TRITON_INTERPRET", "0") == "1"
AUTOTUNE = not INTERPRET and os.environ.get("CORE_TRITON_AUTOTUNE", "0") == "1"
DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_TL = {torch.float32: tl.float32, torch.bfloat16: tl.bfloat16, torch.float16: tl.float16}


# -------------------------------------------------------------------------- tile helpers
@triton.jit
def _load_tile(ptr, rows, cols, s_row, s_col, n_rows, n_cols):
    """The tile ``ptr[rows[:, None], cols[None, :]]`` with strides ``(s_row, s_col)``; 0 outside
    ``n_rows × n_cols``. A transposed tile is the same call with rows/cols (and strides) swapped."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    return tl.load(ptr + rows[:, None] * s_row + cols[None, :] * s_col, mask=mask, other=0.0)


@triton.jit
def _store_tile(ptr, rows, cols, s_row, s_col, n_rows, n_cols, value):
    """Write ``value`` to the tile of :func:`_load_tile` (only inside ``n_rows × n_cols``), cast to ``ptr``'s dtype."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    tl.store(ptr + rows[:, None] * s_row + cols[None, :] * s_col, value.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _row_block(PN, B, eps, BLOCK_M: tl.constexpr):
    """The rows of a backward program (grid ``(nM, K)``): ``k``, ``rm``, ``rm < B``, ‖pᵢ‖ and 1/‖pᵢ‖ (clamped)."""
    k = tl.program_id(1).to(tl.int64)
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    mrow = rm < B
    pn = tl.load(PN + k * B + rm, mask=mrow, other=1.0)
    return k, rm, mrow, pn, 1.0 / tl.maximum(pn, eps)


@triton.jit
def _dot_operand(x, DOT_DTYPE: tl.constexpr, UPCAST: tl.constexpr):
    """``x`` in the dot's input dtype; under ``UPCAST`` (interpreter, bfloat16) rounded to it and
    upcast to float32 again (see module docstring)."""
    x = x.to(DOT_DTYPE)
    if UPCAST:
        x = x.to(tl.float32)
    return x


@triton.jit
def _raw_c_tile(Pk, Yk, rm, rn, B, D, sp_b, sp_d, sy_b, sy_d,
                DOT_DTYPE: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """``P[rm] · Y[rn]ᵀ`` (BM×BN, float32) from the raw rows, over d in BK chunks: the tile of C
    before the inverse-norm rescaling. ``Pk``/``Yk`` point at target k."""
    acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for d0 in range(0, D, BLOCK_K):
        cols = d0 + tl.arange(0, BLOCK_K)
        p = _dot_operand(_load_tile(Pk, rm, cols, sp_b, sp_d, B, D), DOT_DTYPE, UPCAST)
        yt = _dot_operand(_load_tile(Yk, cols, rn, sy_d, sy_b, D, B), DOT_DTYPE, UPCAST)  # (BK, BN): Yᵀ tile
        acc = tl.dot(p, yt, acc, input_precision=PRECISION)
    return acc


# -------------------------------------------------------------------------- kernels
@triton.jit
def _row_stats(P, Y, PN, RY, CD, DPART, B, D,
               sp_k, sp_b, sp_d, sy_k, sy_b, sy_d, lambd, eps,
               SUB_DIAG: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """‖pᵢ‖, 1/‖yᵢ‖, Cᵢᵢ and per-program Σ(Cᵢᵢ−1)² [− λΣCᵢᵢ²]. Grid (cdiv(B, BM), K)."""
    pid_m = tl.program_id(0)
    k = tl.program_id(1).to(tl.int64)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = rows < B
    pp = tl.zeros([BLOCK_M], dtype=tl.float32)
    yy = tl.zeros([BLOCK_M], dtype=tl.float32)
    py = tl.zeros([BLOCK_M], dtype=tl.float32)
    for d0 in range(0, D, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        p = _load_tile(P + k * sp_k, rows, cols, sp_b, sp_d, B, D).to(tl.float32)
        y = _load_tile(Y + k * sy_k, rows, cols, sy_b, sy_d, B, D).to(tl.float32)
        pp += tl.sum(p * p, axis=1)
        yy += tl.sum(y * y, axis=1)
        py += tl.sum(p * y, axis=1)
    pn = tl.sqrt_rn(pp)
    ry = 1.0 / tl.maximum(tl.sqrt_rn(yy), eps)
    c = py / tl.maximum(pn, eps) * ry
    tl.store(PN + k * B + rows, pn, mask=rmask)
    tl.store(RY + k * B + rows, ry, mask=rmask)
    tl.store(CD + k * B + rows, c, mask=rmask)
    part = (c - 1.0) * (c - 1.0)
    if SUB_DIAG:
        part -= lambd * c * c
    part = tl.where(rmask, part, 0.0)
    tl.store(DPART + k * tl.num_programs(0) + pid_m, tl.sum(part, axis=0))


@triton.jit
def _bxb_fwd(P, Y, PN, RY, OPART, B, D,
             sp_k, sp_b, sp_d, sy_k, sy_b, sy_d, eps,
             DOT_DTYPE: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """Σ_{i≠j} Cᵢⱼ² of one BM×BN tile of C (recomputed from raw rows). Grid (nM, nN, K)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    k = tl.program_id(2).to(tl.int64)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = _raw_c_tile(P + k * sp_k, Y + k * sy_k, rm, rn, B, D, sp_b, sp_d, sy_b, sy_d,
                      DOT_DTYPE, UPCAST, PRECISION, BLOCK_M, BLOCK_N, BLOCK_K)
    rp = 1.0 / tl.maximum(tl.load(PN + k * B + rm, mask=rm < B, other=1.0), eps)
    ry = tl.load(RY + k * B + rn, mask=rn < B, other=0.0)
    c = acc * rp[:, None] * ry[None, :]
    off = (rm[:, None] < B) & (rn[None, :] < B) & (rm[:, None] != rn[None, :])
    part = tl.sum(tl.sum(tl.where(off, c * c, 0.0), axis=1), axis=0)
    tl.store(OPART + k * tl.num_programs(0) * tl.num_programs(1) + pid_m * tl.num_programs(1) + pid_n, part)


@triton.jit
def _bxb_bwd(P, Y, PN, RY, CD, GO, U, G, B, D,
             sp_k, sp_b, sp_d, sy_k, sy_b, sy_d, su_k, su_b, su_d, sg_k, sg_b, sg_d,
             lambd, eps, scale,
             DOT_DTYPE: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
             BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """∂ℓ/∂P for one row block, recomputing C tile by tile. Grid (nM, K).

    For every column block: C tile over d, G = 2λC off the diagonal, s += Σⱼ GC,
    U[rows] += (G·ry) @ Y[cols] chunk by chunk over d (U is float32 and owned by this program:
    the first column block stores, later ones read-modify-write). Then
    ∂ℓ/∂pᵢ = scale·go·(uᵢ + 2(Cᵢᵢ−1)ŷᵢ − sᵢp̂ᵢ)/‖pᵢ‖ written to G (which may alias U).
    """
    k, rm, mrow, pn, rp = _row_block(PN, B, eps, BLOCK_M)
    s = tl.zeros([BLOCK_M], dtype=tl.float32)
    for n0 in range(0, B, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        acc = _raw_c_tile(P + k * sp_k, Y + k * sy_k, rm, rn, B, D, sp_b, sp_d, sy_b, sy_d,
                          DOT_DTYPE, UPCAST, PRECISION, BLOCK_M, BLOCK_N, BLOCK_K)
        ry = tl.load(RY + k * B + rn, mask=rn < B, other=0.0)
        c = acc * rp[:, None] * ry[None, :]
        off = mrow[:, None] & (rn[None, :] < B) & (rm[:, None] != rn[None, :])
        gc = tl.where(off, 2.0 * lambd * c, 0.0)
        s += tl.sum(gc * c, axis=1)
        w = _dot_operand(gc * ry[None, :], DOT_DTYPE, UPCAST)  # coefficients on the raw rows y_j
        for d0 in range(0, D, BLOCK_K):
            cols = d0 + tl.arange(0, BLOCK_K)
            y = _dot_operand(_load_tile(Y + k * sy_k, rn, cols, sy_b, sy_d, B, D), DOT_DTYPE, UPCAST)
            um = mrow[:, None] & (cols[None, :] < D)
            uptr = U + k * su_k + rm[:, None] * su_b + cols[None, :] * su_d
            prev = tl.load(uptr, mask=um & (n0 > 0), other=0.0)
            prev = tl.dot(w, y, prev, input_precision=PRECISION)
            tl.store(uptr, prev, mask=um)
        tl.debug_barrier()  # U rows are re-read by other threads of this program
    # diagonal term and normalisation Jacobian
    c_ii = tl.load(CD + k * B + rm, mask=mrow, other=0.0)
    ry_i = tl.load(RY + k * B + rm, mask=mrow, other=0.0)
    g_ii = 2.0 * (c_ii - 1.0)
    s = tl.where(pn >= eps, s + g_ii * c_ii, 0.0)  # clamped norm: p̂ = p/eps, no projection
    f = tl.load(GO).to(tl.float32) * scale
    for d0 in range(0, D, BLOCK_K):
        cols = d0 + tl.arange(0, BLOCK_K)
        u = _load_tile(U + k * su_k, rm, cols, su_b, su_d, B, D)
        p = _load_tile(P + k * sp_k, rm, cols, sp_b, sp_d, B, D).to(tl.float32)
        y = _load_tile(Y + k * sy_k, rm, cols, sy_b, sy_d, B, D).to(tl.float32)
        u += (g_ii * ry_i)[:, None] * y
        grad = (f * rp)[:, None] * (u - (s * rp)[:, None] * p)
        _store_tile(G + k * sg_k, rm, cols, sg_b, sg_d, B, D, grad)


@triton.jit
def _gram_m(Y, RY, M, B, D, sy_k, sy_b, sy_d,
            DOT_DTYPE: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
            BLOCK_A: tl.constexpr, BLOCK_J: tl.constexpr):
    """M = ŶᵀŶ (d×d, float32, contiguous (K, d, d)); upper block triangle, mirrored. Grid (nA, nA, K)."""
    pid_a = tl.program_id(0)
    pid_b = tl.program_id(1)
    if pid_a > pid_b:
        return
    k = tl.program_id(2).to(tl.int64)
    ra = pid_a * BLOCK_A + tl.arange(0, BLOCK_A)
    rb = pid_b * BLOCK_A + tl.arange(0, BLOCK_A)
    acc = tl.zeros([BLOCK_A, BLOCK_A], dtype=tl.float32)
    for j0 in range(0, B, BLOCK_J):
        rj = j0 + tl.arange(0, BLOCK_J)
        ry = tl.load(RY + k * B + rj, mask=rj < B, other=0.0)
        yat = _load_tile(Y + k * sy_k, ra, rj, sy_d, sy_b, D, B).to(tl.float32) * ry[None, :]  # (BA, BJ)
        yb = _load_tile(Y + k * sy_k, rj, rb, sy_b, sy_d, B, D).to(tl.float32) * ry[:, None]  # (BJ, BA)
        acc = tl.dot(_dot_operand(yat, DOT_DTYPE, UPCAST), _dot_operand(yb, DOT_DTYPE, UPCAST), acc,
                     input_precision=PRECISION)
    m = (ra[:, None] < D) & (rb[None, :] < D)
    tl.store(M + k * D * D + ra[:, None] * D + rb[None, :], acc, mask=m)
    tl.store(M + k * D * D + rb[None, :] * D + ra[:, None], acc, mask=m)


@triton.jit
def _gram_v(P, M, PN, V, OPART, B, D, sp_k, sp_b, sp_d, eps,
            STORE_V: tl.constexpr, DOT_DTYPE: tl.constexpr, UPCAST: tl.constexpr, PRECISION: tl.constexpr,
            BLOCK_M: tl.constexpr, BLOCK_A: tl.constexpr, BLOCK_B: tl.constexpr):
    """V = P̂M for one BM×BA tile (stored float32 when needed for the backward) and its
    Σ p̂∘V, the tile's share of Σ_{i,j}Cᵢⱼ². Grid (nM, nA, K)."""
    pid_m = tl.program_id(0)
    pid_a = tl.program_id(1)
    k = tl.program_id(2).to(tl.int64)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    ra = pid_a * BLOCK_A + tl.arange(0, BLOCK_A)
    acc = tl.zeros([BLOCK_M, BLOCK_A], dtype=tl.float32)
    for b0 in range(0, D, BLOCK_B):
        rb = b0 + tl.arange(0, BLOCK_B)
        p = _dot_operand(_load_tile(P + k * sp_k, rm, rb, sp_b, sp_d, B, D), DOT_DTYPE, UPCAST)
        mt = _dot_operand(_load_tile(M + k * D * D, rb, ra, D, 1, D, D), DOT_DTYPE, UPCAST)
        acc = tl.dot(p, mt, acc, input_precision=PRECISION)
    rp = 1.0 / tl.maximum(tl.load(PN + k * B + rm, mask=rm < B, other=1.0), eps)
    v = acc * rp[:, None]
    mask = (rm[:, None] < B) & (ra[None, :] < D)
    if STORE_V:
        tl.store(V + k * B * D + rm[:, None] * D + ra[None, :], v, mask=mask)
    p_own = _load_tile(P + k * sp_k, rm, ra, sp_b, sp_d, B, D).to(tl.float32)
    part = tl.sum(tl.sum(tl.where(mask, p_own * rp[:, None] * v, 0.0), axis=1), axis=0)
    tl.store(OPART + k * tl.num_programs(0) * tl.num_programs(1) + pid_m * tl.num_programs(1) + pid_a, part)


@triton.jit
def _gram_bwd(P, Y, PN, RY, CD, V, GO, G, B, D,
              sp_k, sp_b, sp_d, sy_k, sy_b, sy_d, sg_k, sg_b, sg_d, lambd, eps, scale,
              BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr):
    """Row pass: uᵢ = 2λVᵢ + (2(Cᵢᵢ−1) − 2λCᵢᵢ)ŷᵢ, sᵢ = uᵢ·p̂ᵢ, ∂ℓ/∂pᵢ = (uᵢ − sᵢp̂ᵢ)/‖pᵢ‖. Grid (nM, K)."""
    k, rm, mrow, pn, rp = _row_block(PN, B, eps, BLOCK_M)
    t = tl.zeros([BLOCK_M], dtype=tl.float32)
    for d0 in range(0, D, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        p = _load_tile(P + k * sp_k, rm, cols, sp_b, sp_d, B, D).to(tl.float32)
        v = _load_tile(V + k * B * D, rm, cols, D, 1, B, D)
        t += tl.sum(p * v, axis=1)
    c_ii = tl.load(CD + k * B + rm, mask=mrow, other=0.0)
    ry = tl.load(RY + k * B + rm, mask=mrow, other=0.0)
    g_ii = 2.0 * (c_ii - 1.0) - 2.0 * lambd * c_ii
    s = tl.where(pn >= eps, 2.0 * lambd * t * rp + g_ii * c_ii, 0.0)
    f = tl.load(GO).to(tl.float32) * scale
    for d0 in range(0, D, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        p = _load_tile(P + k * sp_k, rm, cols, sp_b, sp_d, B, D).to(tl.float32)
        y = _load_tile(Y + k * sy_k, rm, cols, sy_b, sy_d, B, D).to(tl.float32)
        v = _load_tile(V + k * B * D, rm, cols, D, 1, B, D)
        u = 2.0 * lambd * v + (g_ii * ry)[:, None] * y
        grad = (f * rp)[:, None] * (u - (s * rp)[:, None] * p)
        _store_tile(G + k * sg_k, rm, cols, sg_b, sg_d, B, D, grad)


@triton.jit
def _finish(DPART, ND, OPART, NO, OUT, lambd, scale, BLOCK: tl.constexpr):
    """loss = (Σ diagonal partials + λ Σ off-diagonal partials)·scale, one program (deterministic)."""
    offs = tl.arange(0, BLOCK)
    acc_d = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(0, ND, BLOCK):
        acc_d += tl.load(DPART + i + offs, mask=i + offs < ND, other=0.0)
    acc_o = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(0, NO, BLOCK):
        acc_o += tl.load(OPART + i + offs, mask=i + offs < NO, other=0.0)
    tl.store(OUT, (tl.sum(acc_d, axis=0) + lambd * tl.sum(acc_o, axis=0)) * scale)


# --------------------------------------------------------------------- block configs
def _configs(name: str, b: int, d: int, wide: bool) -> dict:
    """Fixed tile sizes; ``wide``: 16-bit operands (twice the K-chunk of float32).

    Interpreter: 16-row tiles (tl.dot's minimum) and 32-wide reduction chunks, so small test
    shapes span several tiles and chunks (the interpreter's cost is per operation, not per element).
    CUDA: square 64 tiles, 32 for small batches to keep the SMs busy (to be tuned on the GPU;
    ``CORE_TRITON_AUTOTUNE=1`` searches the lists in :data:`_TUNE_SPACE`).
    """
    if INTERPRET:
        return {"row": dict(BLOCK_M=16, BLOCK_D=32), "bxb_fwd": dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=32),
                "bxb_bwd": dict(BLOCK_M=16, BLOCK_N=16, BLOCK_K=32), "gram_m": dict(BLOCK_A=16, BLOCK_J=32),
                "gram_v": dict(BLOCK_M=16, BLOCK_A=16, BLOCK_B=32)}[name]
    bk = 64 if wide else 32
    t = 64 if b >= 512 else 32
    ta = 64 if d >= 256 else 32
    # picked so that ptxas (sm_90, checked ahead of time on a CPU box) spills nothing or a few bytes
    return {"row": dict(BLOCK_M=16, BLOCK_D=128, num_warps=4),
            "bxb_fwd": dict(BLOCK_M=t, BLOCK_N=t, BLOCK_K=bk, num_warps=4, num_stages=3),
            "bxb_bwd": dict(BLOCK_M=t, BLOCK_N=t, BLOCK_K=bk, num_warps=8 if t == 64 else 4, num_stages=2),
            "gram_m": dict(BLOCK_A=ta, BLOCK_J=bk, num_warps=4, num_stages=3),
            "gram_v": dict(BLOCK_M=64, BLOCK_A=ta, BLOCK_B=bk, num_warps=4, num_stages=3)}[name]


_TUNE_SPACE = {
    "bxb_fwd": [dict(BLOCK_M=m, BLOCK_N=m, BLOCK_K=kk) for m in (32, 64, 128) for kk in (32, 64)],
    "bxb_bwd": [dict(BLOCK_M=m, BLOCK_N=n, BLOCK_K=kk) for m in (32, 64) for n in (32, 64) for kk in (32, 64)],
    "gram_m": [dict(BLOCK_A=a, BLOCK_J=j) for a in (32, 64, 128) for j in (32, 64)],
    "gram_v": [dict(BLOCK_M=m, BLOCK_A=a, BLOCK_B=kk) for m in (32, 64, 128) for a in (32, 64) for kk in (32, 64)],
}
_TUNED = {}
if AUTOTUNE:  # pragma: no cover - CUDA only
    for _name, _fn in (("bxb_fwd", _bxb_fwd), ("bxb_bwd", _bxb_bwd), ("gram_m", _gram_m), ("gram_v", _gram_v)):
        _TUNED[_name] = triton.autotune(
            configs=[triton.Config(c, num_warps=w, num_stages=s) for c in _TUNE_SPACE[_name]
                     for w in (4, 8) for s in (2, 3)],
            key=["B", "D"])(_fn)


def _launch(name: str, kernel, grid, args: tuple, b: int, d: int, wide: bool, **constexprs):
    """Run ``kernel`` with fixed configs, or its autotuned twin; ``grid(meta) -> tuple``."""
    if name in _TUNED:
        _TUNED[name][grid](*args, **constexprs)
    else:
        cfg = _configs(name, b, d, wide)
        kernel[grid(cfg)](*args, **constexprs, **cfg)


# --------------------------------------------------------------------------- wrapper
def check_supported(x: torch.Tensor) -> None:
    """Raise ``ValueError`` unless the Triton kernels can run on ``x`` (CUDA, or any device
    under ``TRITON_INTERPRET=1``; float32/bfloat16/float16)."""
    if x.device.type != "cuda" and not INTERPRET:
        raise ValueError(f"loss_impl='triton' needs CUDA tensors (got {x.device.type}); use loss_impl='auto' or "
                         "'torch', or set TRITON_INTERPRET=1 before importing core.objectives.kernels to run "
                         "the kernels in Triton's (slow) CPU interpreter")
    if x.dtype not in DTYPES:
        raise ValueError(f"loss_impl='triton' supports float32, bfloat16 and float16 inputs, got {x.dtype}; "
                         "use loss_impl='torch' for float64")


def _unit_last(x: torch.Tensor) -> torch.Tensor:
    return x if x.stride(-1) == 1 or x.shape[-1] == 1 else x.contiguous()


def _dot_args(dtype: torch.dtype) -> dict:
    wide = dtype != torch.float32
    if dtype == torch.float32:
        allow = torch.backends.cuda.matmul.allow_tf32 and not INTERPRET
        precision = "tf32" if allow else "ieee"
    else:
        precision = "ieee" if INTERPRET else "tf32"  # ignored for 16-bit operands
    return dict(DOT_DTYPE=_TL[dtype], UPCAST=INTERPRET and dtype == torch.bfloat16, PRECISION=precision), wide


def _on_device(x: torch.Tensor):
    """Launch on ``x``'s GPU (triton launches on the current device)."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


class _BarlowTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pred, target, lambd: float, mean: bool, gram: bool):
        with _on_device(pred):
            return _BarlowTriton._forward(ctx, pred, target, lambd, mean, gram)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        with _on_device(grad_out):
            return _BarlowTriton._backward(ctx, grad_out)

    @staticmethod
    def _forward(ctx, pred, target, lambd: float, mean: bool, gram: bool):
        k, b, d = pred.shape
        dev = pred.device
        f32 = dict(device=dev, dtype=torch.float32)
        pn, ry, cd = (torch.empty(k, b, **f32) for _ in range(3))
        dot, wide = _dot_args(pred.dtype)
        cfg = _configs("row", b, d, wide)
        n_row = triton.cdiv(b, cfg["BLOCK_M"])
        dpart = torch.empty(k, n_row, **f32)
        _row_stats[(n_row, k)](pred, target, pn, ry, cd, dpart, b, d, *pred.stride(), *target.stride(),
                               float(lambd), EPS, SUB_DIAG=gram, **cfg)
        v = None
        if gram:
            m = torch.empty(k, d, d, **f32)
            _launch("gram_m", _gram_m, lambda c: (triton.cdiv(d, c["BLOCK_A"]),) * 2 + (k,),
                    (target, ry, m, b, d, *target.stride()), b, d, wide, **dot)
            store_v = bool(ctx.needs_input_grad[0])
            v = torch.empty(k, b, d, **f32) if store_v else pn
            grid = lambda c: (triton.cdiv(b, c["BLOCK_M"]), triton.cdiv(d, c["BLOCK_A"]), k)  # noqa: E731
            if "gram_v" in _TUNED:  # the partial buffer's size depends on the chosen tiles: size it for the smallest
                opart = torch.zeros(k, triton.cdiv(b, 32) * triton.cdiv(d, 32), **f32)
            else:
                c = _configs("gram_v", b, d, wide)
                opart = torch.empty(k, grid(c)[0] * grid(c)[1], **f32)
            _launch("gram_v", _gram_v, grid, (pred, m, pn, v, opart, b, d, *pred.stride(), EPS), b, d, wide,
                    STORE_V=store_v, **dot)
        else:
            grid = lambda c: (triton.cdiv(b, c["BLOCK_M"]), triton.cdiv(b, c["BLOCK_N"]), k)  # noqa: E731
            if "bxb_fwd" in _TUNED:
                opart = torch.zeros(k, triton.cdiv(b, 32) ** 2, **f32)
            else:
                c = _configs("bxb_fwd", b, d, wide)
                opart = torch.empty(k, grid(c)[0] * grid(c)[1], **f32)
            _launch("bxb_fwd", _bxb_fwd, grid, (pred, target, pn, ry, opart, b, d, *pred.stride(),
                                                *target.stride(), EPS), b, d, wide, **dot)
        scale = 1.0 / k / (b if mean else 1)
        loss = torch.empty((), **f32)
        _finish[(1,)](dpart, dpart.numel(), opart, opart.numel(), loss, float(lambd), scale,
                      BLOCK=256 if INTERPRET else 1024)
        ctx.save_for_backward(pred, target, pn, ry, cd, v)
        ctx.lambd, ctx.gram, ctx.scale = float(lambd), gram, scale
        return loss

    @staticmethod
    def _backward(ctx, grad_out):
        pred, target, pn, ry, cd, v = ctx.saved_tensors
        k, b, d = pred.shape
        go = grad_out.detach().to(torch.float32).reshape(1).contiguous()
        grad = torch.empty_like(pred)
        if grad.stride(-1) != 1:
            grad = torch.empty(pred.shape, dtype=pred.dtype, device=pred.device)
        dot, wide = _dot_args(pred.dtype)
        if ctx.gram:
            cfg = _configs("row", b, d, wide)
            _gram_bwd[(triton.cdiv(b, cfg["BLOCK_M"]), k)](
                pred, target, pn, ry, cd, v, go, grad, b, d, *pred.stride(), *target.stride(), *grad.stride(),
                ctx.lambd, EPS, ctx.scale, **cfg)
        else:
            u = grad if grad.dtype == torch.float32 else torch.empty(k, b, d, device=pred.device, dtype=torch.float32)
            _launch("bxb_bwd", _bxb_bwd, lambda c: (triton.cdiv(b, c["BLOCK_M"]), k),
                    (pred, target, pn, ry, cd, go, u, grad, b, d, *pred.stride(), *target.stride(), *u.stride(),
                     *grad.stride(), ctx.lambd, EPS, ctx.scale), b, d, wide, **dot)
        return grad, None, None, None, None


def barlow_batchwise_triton(pred: torch.Tensor, target: torch.Tensor, lambd: float = 0.01,
                            reduction: str = "sum", form: str = "auto") -> torch.Tensor:
    """Fused-kernel twin of :func:`core.objectives.barlow.barlow_batchwise` (same arguments,
    value and gradient; a float32 scalar). ``form`` picks the algorithm exactly as there
    (``auto``: gram when d < B); targets are constants (no gradient)."""
    check_barlow_args(pred, target, lambd, reduction, form)
    check_supported(pred)
    check_supported(target)
    if target.device != pred.device:
        raise ValueError(f"pred and target must be on the same device, got {pred.device} and {target.device}")
    _, b, d = pred.shape
    gram = uses_gram_form(form, b, d)
    return _BarlowTriton.apply(_unit_last(pred), _unit_last(target.detach()), float(lambd),
                               reduction == "mean", gram)
