"""Will a CPU run's training state fit in this host's memory? Checked once before training, so
that a width the machine cannot hold (``--dim 12288`` gives LFR's K predictor heads 906 M
weights) fails with one line and exit 2 instead of an out-of-memory kill an epoch later.

The estimate is a lower bound of what this process must still allocate once the encoder and
the objective are built: every trainable parameter is held :data:`COPIES_PER_TRAINABLE` times
at once when a checkpoint is written (its value, its gradient, Adam's two moments, and the
checkpoint's clone of value and moments: Lightning's ``AsyncCheckpointIO`` copies the state on
the training thread), and the values already exist. Activations, data, cached targets and the
other processes of a multi-process run come on top, so a run refused here could not have
finished.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import torch

from core.errors import UserError

COPIES_PER_TRAINABLE = 7
_MEMINFO = Path("/proc/meminfo")
_CGROUP_LIMITS = (  # (limit, usage) of the cgroup v2 and v1 memory controllers
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"), Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")),
)


def _read_int(path: Path) -> Optional[int]:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" when unlimited


def available_bytes(meminfo: Path = _MEMINFO, cgroups=_CGROUP_LIMITS) -> Optional[int]:
    """Memory a new allocation can still get: ``MemAvailable`` of ``/proc/meminfo``, lowered to
    the room left under a cgroup's memory limit (containers); ``None`` where neither is known."""
    found = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    for limit_path, usage_path in cgroups:
        limit, usage = _read_int(limit_path), _read_int(usage_path)
        if limit is not None and usage is not None and limit < 2 ** 60:  # v1 writes a huge number when unlimited
            found.append(max(limit - usage, 0))
    return min(found) if found else None


def _bytes(params: Iterable[torch.Tensor]) -> int:
    return sum(p.numel() * p.element_size() for p in {id(p): p for p in params}.values())


def bytes_still_needed(trainable: Iterable[torch.Tensor]) -> int:
    """Lower bound of what training still allocates for these built parameters (module docstring)."""
    return (COPIES_PER_TRAINABLE - 1) * _bytes(trainable)


def check_fits(parts: dict, available: Optional[int] = None) -> None:
    """Raise :class:`UserError` when training ``parts`` (``{name: trainable parameters}``) cannot
    fit in :func:`available_bytes` (or ``available``)."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    sizes = {name: bytes_still_needed(params) for name, params in parts.items()}
    need = sum(sizes.values())
    if need <= available:
        return
    largest = max(sizes, key=sizes.get)
    raise UserError(
        f"training needs at least {need / 2 ** 30:.1f} GiB more memory and {available / 2 ** 30:.1f} GiB is "
        f"available (the {largest}'s weights alone: {sizes[largest] / 2 ** 30:.1f} GiB, each held "
        f"{COPIES_PER_TRAINABLE} times: value, gradient, 2 Adam moments and the checkpoint's copy of those 3); "
        f"lower --dim (LFR's K predictor heads hold K x dim x proj_dim weights: --set proj_dim=256 narrows them) "
        f"or train on a GPU")
