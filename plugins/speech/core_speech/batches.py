"""Variable-length clips: flat storage, host splits and padded batches with exact lengths.

As in ``core_molecule.graphs``, a :class:`SpeechStore` holds every clip of a corpus in flat
arrays (waveforms and feature frames concatenated, with offset pointers); a
:class:`SpeechSplit` is a view on some rows following the host's split protocol
(``(x, y, index)`` items, ``ids``, ``targets``, ``raw_features()``, ``collate_fn``).

:func:`collate` right-pads the clips of a batch with zeros to the longest one and keeps the
true lengths, so every encoder/projector can mask the padding exactly (an utterance's
embedding never depends on its batch mates): a :class:`SpeechBatch` holds the normalised
features ``(B, F, T)`` with ``frames (B,)`` and the waveforms ``(B, L)`` with ``samples (B,)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from core.data import collate_labels, label_tensor, offsets


@dataclass
class SpeechBatch:
    """A padded batch of clips (see the module docstring). ``len(batch)`` is the number of clips."""

    features: torch.Tensor  # (B, F, T) float32, zero beyond frames[i]
    frames: torch.Tensor  # (B,) int64 valid frames
    wave: torch.Tensor  # (B, L) float32, zero beyond samples[i]
    samples: torch.Tensor  # (B,) int64 valid samples

    def to(self, device, non_blocking: bool = False) -> "SpeechBatch":
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return SpeechBatch(move(self.features), move(self.frames), move(self.wave), move(self.samples))

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def device(self) -> torch.device:
        return self.features.device

    @classmethod
    def from_features(cls, features: torch.Tensor, frames: Optional[torch.Tensor] = None) -> "SpeechBatch":
        """A batch of features ``(B, F, T)`` (all ``T`` frames valid unless ``frames``), no waveform."""
        b, _, t = features.shape
        frames = torch.full((b,), t, dtype=torch.long, device=features.device) if frames is None else frames
        empty = features.new_zeros(b, 0)
        return cls(features, frames, empty, torch.zeros(b, dtype=torch.long, device=features.device))


def as_batch(x, what: str) -> SpeechBatch:
    """``x`` as a :class:`SpeechBatch`: a batch passes through; a tensor ``(B, F, T)`` is taken as
    unpadded features (so generic callers with plain tensors work too)."""
    if isinstance(x, SpeechBatch):
        return x
    if isinstance(x, torch.Tensor) and x.ndim == 3:
        return SpeechBatch.from_features(x.float())
    raise TypeError(f"{what} takes a SpeechBatch from a speech dataset (core_speech.batches.collate) or "
                    f"features (B, F, T), got {type(x).__name__} {tuple(getattr(x, 'shape', ()))}")


@dataclass
class SpeechStore:
    """All clips of a corpus, in input order, in flat arrays."""

    ids: list
    wave: np.ndarray  # (total_samples,) float32
    wave_ptr: np.ndarray  # (N+1,)
    features: np.ndarray  # (F, total_frames) float32, normalised
    frame_ptr: np.ndarray  # (N+1,)
    raw: np.ndarray  # (N, F) float32 mean-pooled front-end features before normalisation
    targets: Optional[np.ndarray] = None  # (N,) int64 class ids, or None
    extra: dict = field(default_factory=dict)  # per-clip metadata columns (path, speaker, label)

    @classmethod
    def build(cls, ids, waves: list, feats: list, raw: np.ndarray, targets=None, extra=None) -> "SpeechStore":
        """From per-clip ``waves`` ``(L_i,)``, normalised ``feats`` ``(F, T_i)`` and ``raw`` ``(N, F)``."""
        n_feat = feats[0].shape[0] if feats else 0
        features = np.concatenate(feats, axis=1) if feats else np.zeros((n_feat, 0), np.float32)
        wave = np.concatenate(waves) if waves else np.zeros(0, np.float32)
        return cls(list(ids), wave.astype(np.float32), offsets([len(w) for w in waves]), features.astype(np.float32),
                   offsets([f.shape[1] for f in feats]), np.asarray(raw, np.float32), targets, dict(extra or {}))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class ClipRef:
    """One clip of a store (what a split's ``__getitem__`` returns as ``x``)."""

    store: SpeechStore
    row: int

    @property
    def features(self) -> np.ndarray:
        """Normalised features ``(F, T)`` (a view into the store)."""
        return self.store.features[:, self.store.frame_ptr[self.row]:self.store.frame_ptr[self.row + 1]]

    @property
    def wave(self) -> np.ndarray:
        """The waveform ``(L,)`` (a view into the store)."""
        return self.store.wave[self.store.wave_ptr[self.row]:self.store.wave_ptr[self.row + 1]]


@dataclass(frozen=True)
class StoredClip:
    """One clip read on its own (from ``core prepare`` shards): normalised ``features (F, T)``
    and ``wave (L,)``, collated like a :class:`ClipRef`."""

    features: np.ndarray
    wave: np.ndarray


def collate(items) -> tuple:
    """``[(clip, y, index)]`` -> ``(SpeechBatch, y (B,), index (B,))``, zero-padded to the longest
    clip (a clip: :class:`ClipRef` or :class:`StoredClip`). Each clip is read from its own store,
    so a batch may mix corpora (a joined pretrain pool)."""
    clips = [(it[0].features, it[0].wave) for it in items]
    frames = np.asarray([f.shape[1] for f, _ in clips], dtype=np.int64)
    samples = np.asarray([len(w) for _, w in clips], dtype=np.int64)
    feats = np.zeros((len(clips), clips[0][0].shape[0], int(frames.max())), dtype=np.float32)
    wave = np.zeros((len(clips), int(samples.max())), dtype=np.float32)
    for i, (f, w) in enumerate(clips):
        feats[i, :, : f.shape[1]] = f
        wave[i, : len(w)] = w
    batch = SpeechBatch(torch.from_numpy(feats), torch.from_numpy(frames), torch.from_numpy(wave),
                        torch.from_numpy(samples))
    return (batch, *collate_labels(items))


class SpeechSplit(Dataset):
    """Rows of a :class:`SpeechStore` as a host split (items ``(ClipRef, y, index)``)."""

    collate_fn = staticmethod(collate)

    def __init__(self, store: SpeechStore, rows: Sequence[int], labelled: bool = True):
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)
        self.ids = [store.ids[r] for r in self.rows]
        self.targets = None if (store.targets is None or not labelled) else store.targets[self.rows]
        self._y = label_tensor(self.targets, len(self.rows))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return ClipRef(self.store, int(self.rows[i])), self._y[i], i

    def raw_features(self) -> np.ndarray:
        """The raw floor's input: each clip's log-mel (or MFCC) averaged over its frames, before
        normalisation, ``(N, F)``."""
        return self.store.raw[self.rows].astype(np.float32)

    def metadata(self) -> dict:
        """Extra per-clip columns for ``core embed`` (path, label, speaker, input_index)."""
        return {key: [values[r] for r in self.rows] for key, values in self.store.extra.items()}
