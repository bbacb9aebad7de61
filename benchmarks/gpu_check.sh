#!/usr/bin/env bash
# Issue 8 GPU check in one go (a lent H200): the fused Triton loss on real CUDA, then its benchmark.
#
#   bash benchmarks/gpu_check.sh            # from the repository root; results under $OUT (default gpu_check_out/)
#
# 1. tests/kernel_checks.py --device cuda --large: the interpreter checks of tests/test_kernels.py
#    compiled for the GPU (no TRITON_INTERPRET) plus the four benchmark shapes and two odd ones,
#    value and gradient against the float64 torch reference (float32 1e-4, bfloat16 1e-2).
# 2. pytest tests/test_kernels.py tests/test_lfr.py (CUDA visible: dispatch tests take the GPU paths).
# 3. benchmarks/loss_kernel.py: loss table (fixed tile configs), the encoder-phase step table with
#    torch.compile'd heads, then the loss table again with CORE_TRITON_AUTOTUNE=1.
# Each step has its own time limit so a slow one cannot eat the others; the whole script is
# at most 9.5 minutes (typically 3-5) on an H200: run it with timeout_s=600. Python: $PY, else .venv/bin/python, else python3.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH="$PWD:$PWD/plugins/ecg${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
unset TRITON_INTERPRET
# the ECG plugin's entry point (for `ecg/lfr-fused` through the plugin manager); offline, no deps
$PY -m pip install -q --no-deps --no-build-isolation --no-index -e plugins/ecg >/dev/null 2>&1 \
  || echo "note: could not pip-install plugins/ecg; kernel_checks registers it by hand"

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  $PY -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$OUT/env.txt"

echo "== 1. kernel checks on CUDA"
timeout 120 $PY tests/kernel_checks.py --device cuda --large --json "$OUT/kernel_checks.json" 2>&1 | tee "$OUT/kernel_checks.txt"
echo "rc=${PIPESTATUS[0]}" | tee -a "$OUT/kernel_checks.txt"

echo "== 2. pytest"
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_lfr.py 2>&1 | tail -15 | tee "$OUT/pytest.txt"

echo "== 3. benchmark (fixed configs, step with compiled heads)"
timeout 200 $PY benchmarks/loss_kernel.py --compile-heads --out "$OUT/bench.md" 2>&1 | tee "$OUT/bench.txt"
echo "== 3b. loss table with CORE_TRITON_AUTOTUNE=1"
CORE_TRITON_AUTOTUNE=1 timeout 120 $PY benchmarks/loss_kernel.py --no-step --rep-ms 100 --out "$OUT/bench_autotune.md" \
  2>&1 | tee "$OUT/bench_autotune.txt"
echo "done; results in $OUT"
