"""The order the encoder phase reads the pretrain pool in: seeded per epoch, split over ranks,
resumable mid-epoch (docs/design.md#data-flow-of-core-run, step 4).

Every rank computes the same whole-epoch order from ``(seed, epoch)`` and takes its own
contiguous block of ``N // world_size`` positions (up to ``world_size - 1`` positions are left
out each epoch, a different few each time). The order depends on the pool:

* in memory: a random permutation;
* shards written by ``core prepare`` (a split with ``records`` and ``global_index``, e.g.
  :class:`core.shards.ShardSplit`): chunks in a random order, records shuffled inside each
  chunk, so each rank reads its own run of chunks sequentially (:func:`core.shards.chunk_groups`);
* a :class:`core.data.ChainedPool` (``--pretrain-data`` + ``--data``): each part's own order,
  the parts interleaved at random.

:meth:`EpochSampler.resume` skips what a checkpoint written mid-epoch had already consumed, so
a resumed run reads exactly the positions the uninterrupted run would have (Lightning restores
the loop's progress, not the sampler's: litData issue #775 for its own loader).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from torch.utils.data import Sampler

Order = Callable[[np.random.Generator], np.ndarray]  # one epoch's order of the pool's positions


def pool_order(pool) -> Order:
    """How to draw one epoch's order of ``pool`` (module docstring)."""
    from core.data import ChainedPool

    if isinstance(pool, ChainedPool):
        return _interleaved([pool_order(p) for p in pool.parts], [len(p) for p in pool.parts])
    if hasattr(pool, "records") and hasattr(pool, "global_index"):
        from core.shards import chunk_groups

        return _chunk_order(chunk_groups(pool.records.root, pool.global_index))
    n = len(pool)
    return lambda rng: rng.permutation(n)


def _chunk_order(groups: list) -> Order:
    def order(rng):
        chunks = rng.permutation(len(groups))
        return np.concatenate([rng.permutation(groups[c]) for c in chunks]) if groups else np.zeros(0, np.int64)

    return order


def _interleaved(orders: list, sizes: list) -> Order:
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    def order(rng):
        which = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
        out = np.empty(len(which), np.int64)
        for part, (draw, start) in enumerate(zip(orders, starts)):
            out[which == part] = draw(rng) + start
        return out

    return order


class EpochSampler(Sampler):
    """This rank's positions of ``pool`` for the current epoch (:meth:`set_epoch`, called by
    Lightning), drawn from ``numpy.random.default_rng([seed, epoch])``; see the module docstring."""

    def __init__(self, pool, seed: int = 0, rank: int = 0, world_size: int = 1):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.n = len(pool)
        self.draw = pool_order(pool)
        self.seed, self.rank, self.world_size, self.epoch = int(seed), int(rank), int(world_size), 0
        self._resume: Optional[tuple] = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if self._resume is not None and self._resume[0] != self.epoch:
            self._resume = None  # the resumed epoch is over

    def resume(self, epoch: int, done: int) -> None:
        """Read ``epoch`` from its position ``done`` on (what a mid-epoch checkpoint had read); every
        iterator of that epoch skips them (Lightning may open one before the epoch starts)."""
        self._resume = (int(epoch), int(done))

    def epoch_positions(self) -> np.ndarray:
        """This rank's whole block for the current epoch (before any resume skip)."""
        order = self.draw(np.random.default_rng([self.seed, self.epoch]))
        per = self.n // self.world_size
        return order[self.rank * per:(self.rank + 1) * per]

    def __len__(self) -> int:
        return self.n // self.world_size

    def __iter__(self):
        positions = self.epoch_positions()
        if self._resume is not None and self._resume[0] == self.epoch:
            positions = positions[self._resume[1]:]
        return iter(positions.tolist())
