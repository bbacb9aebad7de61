"""The ECG projector bank: K random Conv1d networks over the leads, evaluated as one module.

3 stride-2 layers with kernel 7 see 43 samples (a QRS complex at 100-250 Hz, ~30 % of a
140-sample ECG5000 beat) and reduce length 8x; 32 hidden channels keep K=6..60 candidate
networks cheap (targets are computed once). Imported lazily: torch loads on first build.
"""
from __future__ import annotations

CONV1D_BANK = {"hidden": 32, "depth": 3, "kernel_size": 7, "stride": 2}


def build_conv1d_bank(input_spec, k, out_dim):
    """K random Conv1d networks over the ECG leads, evaluated as one module (K, B, out_dim)."""
    from core.projectors import Conv1dBank

    return Conv1dBank(input_spec.shape[0], k, out_dim, **CONV1D_BANK)
