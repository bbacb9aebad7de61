"""Use a trained encoder in your own code: :func:`load_encoder` and :func:`embed`.

>>> from core.pretrained import load_encoder, embed
>>> encoder, spec, card = load_encoder("runs/20260101-120000-ecg-ecg5000")
>>> z = embed(encoder, x)          # x: (N, *spec.shape) array or tensor -> (N, dim) float32

Inputs must be prepared as the plugin's reader prepares them (the run's ``card.json`` says
which dataset and options; ECG records, for instance, are standardised per lead): to embed
files exactly as a run read them use ``core embed RUN --data PATH --out FILE``, or pass a
split of the plugin's dataset (items ``(x, y, index)``) to :func:`embed`.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import torch

from core.errors import UserError
from core.specs import InputSpec

__all__ = ["LoadedEncoder", "load_encoder", "embed"]


class LoadedEncoder(NamedTuple):
    """A run's trained encoder (eval mode), the input it expects and its ``card.json``."""

    encoder: torch.nn.Module
    input_spec: InputSpec
    card: dict


def load_encoder(run_dir, seed: Optional[int] = None, device="cpu") -> LoadedEncoder:
    """The trained encoder of a finished ``core run`` folder (``seed``: one of its ``--seeds``;
    default the first), on ``device``. A failed, unfinished or damaged run is a one-line
    :class:`core.errors.UserError`."""
    from core import runs
    from core.plugins import get_plugin_manager

    run_dir = Path(run_dir)
    folder = run_dir
    if seed is not None:
        cfg = runs.load_run_config(run_dir)
        seeds = [int(cfg.seed) + i for i in range(int(cfg.seeds))]
        if int(seed) not in seeds:
            raise UserError(f"{run_dir}: has seeds {seeds}, not {seed}; e.g. seed={seeds[0]}")
        folder = run_dir if int(seed) == seeds[0] else run_dir / f"seed-{int(seed)}"
    encoder, card = runs.load_encoder(get_plugin_manager(), folder)
    return LoadedEncoder(encoder.to(device).eval(), InputSpec.from_dict(card["input_spec"]), card)


@torch.no_grad()
def embed(encoder, inputs, batch_size: Optional[int] = None, device=None) -> np.ndarray:
    """``(N, dim)`` float32 embeddings of ``inputs`` in order, the encoder in eval mode.

    ``encoder``: an ``nn.Module`` or a :class:`LoadedEncoder`. ``inputs``: an array or tensor
    ``(N, *input_spec.shape)``, or a dataset whose items are ``(x, y, index)`` (a plugin split).
    ``batch_size`` default: 256, fewer for long inputs (:func:`core.training.budget_batch_size`)."""
    from core.data import ArrayDataset
    from core.training import embed as embed_dataset

    if isinstance(encoder, LoadedEncoder):
        encoder = encoder.encoder
    if isinstance(inputs, (np.ndarray, torch.Tensor)):
        inputs = ArrayDataset(inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else inputs)
    return embed_dataset(encoder, inputs, batch_size=batch_size, device=device)
