"""Shared pieces of the objectives: protocol defaults and validated configs.

Every objective (LFR and the baselines) is one module under :mod:`core.objectives` holding a frozen config dataclass
(validated in ``__post_init__``, built from a run's ``objective_params`` by
:func:`config_from_params`), pure-function loss terms, and an :class:`Objective` subclass.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Optional

import torch
from torch import nn

__all__ = ["Objective", "config_from_params", "check_int", "check_number", "check_choice", "mlp_head"]


class Objective(nn.Module):
    """Defaults of the objective protocol (see :mod:`core.objectives`): nothing to prepare,
    every trainable parameter of the objective is trained with the encoder, no inner phase,
    no frozen state to compare across ranks. LFR and every baseline derive from it.

    Subclasses implement :meth:`encoder_loss` and, if the encoder must see something other than
    the raw batch (augmented views), ``encoder_input(x, index)``.
    """

    inner_epochs = 0

    def prepare(self, encoder: nn.Module, loader, device) -> None:
        """Nothing to cache by default."""

    def encoder_loss(self, z: torch.Tensor, x, index: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def encoder_phase_parameters(self) -> list:
        return [p for p in self.parameters() if p.requires_grad]

    def inner_parameters(self) -> list:
        return []

    def inner_phase(self, embeddings, index, optimizer, batch_size, generator=None) -> float:
        return float("nan")

    def rank_checks(self) -> dict:
        """``{name: hash}`` of frozen state that must be identical on every rank under DDP
        (``core.training`` records it next to the parameter hashes); nothing by default."""
        return {}


def config_from_params(cls, params: Optional[dict], objective: str):
    """``cls(**params)`` for a config dataclass; unknown keys raise ``ValueError`` naming them.

    Numbers given as strings (YAML reads ``1e-2`` as a string) are converted for float fields.
    """
    params = dict(params or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"unknown {objective} parameter(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known) or 'none'}")
    for name, f in known.items():
        if isinstance(params.get(name), str) and "float" in str(f.type):
            try:
                params[name] = float(params[name])
            except ValueError:
                pass  # __post_init__ reports it
    return cls(**params)


def check_int(objective: str, name: str, value, minimum: int = 1, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{objective} {name} must be an integer >= {minimum}"
                         f"{' or None' if optional else ''}, got {value!r}")


def check_number(objective: str, name: str, value, low: float = -math.inf, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{objective} {name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")


def check_choice(objective: str, name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{objective} {name} must be one of {tuple(allowed)}, got {value!r}")


def mlp_head(in_dim: int, hidden: int, out_dim: int, layers: int = 2, bias: bool = True,
             last_bn: bool = False) -> nn.Sequential:
    """``layers - 1`` blocks ``Linear-BN-ReLU`` then ``Linear`` (optionally followed by BN): the
    projection/prediction heads of SimCLR and SimSiam."""
    mods, width = [], in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(width, hidden, bias=bias), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        width = hidden
    mods.append(nn.Linear(width, out_dim, bias=bias and not last_bn))
    if last_bn:
        mods.append(nn.BatchNorm1d(out_dim))
    return nn.Sequential(*mods)
