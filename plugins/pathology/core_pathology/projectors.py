"""Random projector banks for tiles: the core's Conv2d family (K random conv nets evaluated as
one grouped-convolution module, ``core.projectors.Conv2dBank``), sized for histology tiles."""
from __future__ import annotations

# 3 stride-2 3x3 layers see 15 px of a 64 px tile (a few nuclei at ~1 um/px) and pool
# globally; 32 channels keep r*K = 60 candidate networks cheap (targets are computed once).
CONV2D_BANK = {"hidden": 32, "depth": 3, "kernel_size": 3, "stride": 2}


def build_conv2d_bank(spec, k: int, out_dim: int):
    """K random Conv2d networks on ``(B, 3, H, W)`` tiles -> ``(K, B, out_dim)``."""
    from core.projectors import Conv2dBank

    return Conv2dBank(spec.shape[0], k, out_dim, **CONV2D_BANK)
