"""What the contract checker feeds the pieces it checks: the plugin's embedded datasets
(loaded once per process), small seeded synthetic batches for modalities without a dataset,
a tiny pretrain pool for objectives and tiny labelled splits for evaluators."""
from __future__ import annotations

from typing import Iterable

from core.errors import UserError
from core.specs import InputSpec

__all__ = ["SYNTHETIC_SPECS", "synthetic_batch", "collate_first", "load_once", "clear_cache", "inputs_for",
           "TinyPool", "stand_in_pool", "tiny_task_data"]

# small stand-in input specs for modalities a plugin declares but has no dataset for
SYNTHETIC_SPECS = {
    "vector": InputSpec("vector", (16,)),
    "sequence": InputSpec("sequence", (2, 64)),
    "image": InputSpec("image", (3, 16, 16)),
    "tokens": InputSpec("tokens", (20,), dtype="int64", vocab_size=25),
    "audio": InputSpec("audio", (1, 800), sample_rate=8000.0),
}

_LOADED: dict = {}  # (name, loader id, path, seed) -> (loader, LoadedDataset | Exception): load once


def synthetic_batch(spec: InputSpec, batch_size: int, seed: int = 0):
    """A seeded random batch shaped ``(B, *spec.shape)`` (token ids with trailing padding)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if spec.modality == "tokens":
        ids = torch.randint(1, int(spec.vocab_size), (batch_size, *spec.shape), generator=g)
        if ids.shape[-1] > 4:
            ids[1:, -2:] = 0  # padding, as real token batches have
        return ids
    return torch.randn(batch_size, *spec.shape, generator=g)


def collate_first(dataset, n: int):
    """The first ``n`` items of ``dataset`` collated as a run would."""
    import torch

    items = [dataset[i] for i in range(min(n, len(dataset)))]
    collate = getattr(dataset, "collate_fn", None) or torch.utils.data.default_collate
    return collate(items)


def load_once(spec, path, seed: int):
    """``spec.load(path)`` once per process (a raised exception is returned, and remembered)."""
    key = (spec.name, id(spec.load), str(path) if path is not None else None, seed)
    cached = _LOADED.get(key)
    if cached is None or cached[0] is not spec.load:  # the loader is kept: its id is not reused
        try:
            loaded = spec.load(path, seed=seed, on_bad_record="error", options={})
        except Exception as e:  # remembered: a broken loader is reported, not retried
            loaded = e
        cached = _LOADED[key] = (spec.load, loaded)
    return cached[1]


def clear_cache() -> None:
    """Forget the datasets loaded by earlier checks."""
    _LOADED.clear()


def inputs_for(modalities: Iterable[str], available: list, batch_size: int, seed: int) -> list:
    """``(input_spec, batch)`` pairs to test a piece declaring ``modalities`` on."""
    modalities = tuple(modalities)
    own = [(s, b) for s, b in available if not modalities or s.modality in modalities]
    if own:
        return own
    return [(SYNTHETIC_SPECS[m], synthetic_batch(SYNTHETIC_SPECS[m], batch_size, seed))
            for m in modalities if m in SYNTHETIC_SPECS]


class TinyPool:
    """The first items of a dataset, re-indexed 0..n-1 (a tiny pretrain pool)."""

    def __init__(self, items, collate):
        self.items, self.collate_fn = items, collate

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        x, y, _ = self.items[i]
        return x, y, i


def stand_in_pool(pm, seed: int) -> tuple:
    """``(input_spec, unlabelled items, labelled items, collate, task)`` of 8 synthetic samples
    for objectives of a plugin without datasets: of a modality with augmentations if any
    (SimCLR-like objectives need them), else vectors."""
    import torch

    from core.specs import Task

    try:
        augmentations = pm.specs("augmentation")
    except (AttributeError, UserError):
        augmentations = []
    augmented = [m for a in augmentations for m in a.modalities if m in SYNTHETIC_SPECS]
    ispec = SYNTHETIC_SPECS[(augmented + ["vector"])[0]]
    x = synthetic_batch(ispec, 8, seed)
    return (ispec, [(x[i], torch.tensor(-1), i) for i in range(len(x))],
            [(x[i], torch.tensor(i % 2), i) for i in range(len(x))], None, Task("binary", ("a", "b")))


def tiny_task_data(kind: str, seed: int):
    """Train/val/test ``(x, y)`` splits (30/15/15 samples, 6 features, some signal) of a ``kind`` task."""
    import numpy as np

    from core.specs import Task

    rng = np.random.default_rng(seed)
    n, f = 60, 6
    x = rng.normal(size=(n, f)).astype(np.float32)
    if kind == "multiclass":
        y, task = np.arange(n) % 3, Task("multiclass", ("a", "b", "c"))
    elif kind == "binary":
        y, task = np.arange(n) % 2, Task("binary", ("no", "yes"))
    elif kind == "multilabel":
        y, task = np.stack([np.arange(n) % 2, (np.arange(n) // 2) % 2], 1), Task("multilabel", ("p", "q"))
    else:
        y, task = x[:, 0] * 2 + 0.1 * rng.normal(size=n), Task("regression")
    x[:, 1] += np.asarray(y if y.ndim == 1 else y[:, 0], dtype=np.float32)  # some signal
    parts = np.split(np.arange(n), [30, 45])
    return [(x[p], y[p]) for p in parts], task
