"""Figures for reports: loss curve, embedding map, and the shared figure/PNG helpers.

Plots use matplotlib's Agg canvas directly (no pyplot, no global backend switch) and are
written atomically through :mod:`core.io`.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from core.io import atomic_write_bytes
from core.tables import is_number

TSNE_MAX_POINTS = 5000


def figure(width: float = 6.0, height: float = 4.0):
    """A matplotlib ``Figure`` on its own Agg canvas (no pyplot, no global backend), 110 dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path) -> Path:
    """Render ``fig`` to PNG in memory, then write it atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def plot_loss_curve(history: Sequence[Mapping[str, Any]], path) -> Path:
    """Plot every numeric column of ``history`` (rows like ``{"epoch", "encoder_loss", ...}``) against epoch."""
    fig = figure()
    ax = fig.add_subplot()
    series = _history_series(history)
    for name, (x, y) in series.items():
        ax.plot(x, y, marker="o" if len(x) < 30 else None, markersize=3, label=name)
    if not series:
        ax.text(0.5, 0.5, "no training history", ha="center", va="center", transform=ax.transAxes)
    elif all((np.asarray(y) > 0).all() for _, y in series.values()):
        lo = min(min(y) for _, y in series.values())
        hi = max(max(y) for _, y in series.values())
        if hi / lo > 100:
            ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("training loss")
    if series:
        ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _history_series(history) -> dict[str, tuple[list, list]]:
    """``{column: (epochs, values)}`` for numeric, finite entries; ``epoch`` is the x axis."""
    series: dict[str, tuple[list, list]] = {}
    for i, row in enumerate(history or ()):
        x = row.get("epoch", i)
        for key, value in row.items():
            if key == "epoch" or not is_number(value) or not math.isfinite(float(value)):
                continue
            xs, ys = series.setdefault(key, ([], []))
            xs.append(x)
            ys.append(float(value))
    return series


def embedding_2d(emb: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D coordinates: PCA to 50 then t-SNE when ``N <= 5000``, else PCA to 2."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.nan_to_num(np.asarray(emb, dtype=np.float64).reshape(len(emb), -1))
    if x.shape[1] < 2:
        x = np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
    n, d = x.shape
    if n < 3:
        return x[:, :2] - x[:, :2].mean(axis=0)
    pca_dim = min(50, d, n) if n <= TSNE_MAX_POINTS and n > 5 else min(2, d, n)
    x = PCA(n_components=pca_dim, random_state=seed).fit_transform(x)
    if n > TSNE_MAX_POINTS or n <= 5:
        return np.pad(x, ((0, 0), (0, 2 - x.shape[1])))
    perplexity = float(min(30.0, (n - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    # small maps gain nothing from OpenMP threads, and busy threads stall on shared CPUs
    with threadpool_limits(limits=1 if n < 1000 else None):
        return tsne.fit_transform(x)


def _colour_labels(labels, class_names: Sequence[str], task_kind: Optional[str] = None):
    """``(kind, values, names)``: "none", "categorical" (ints + names) or "continuous"."""
    if labels is None:
        return "none", None, []
    y = np.asarray(labels)
    if task_kind == "regression":
        y = y.astype(np.float64).reshape(len(y), -1)[:, 0]
        return "continuous", y, []
    if y.ndim == 2 and y.shape[1] > 1:  # multilabel: first positive label, else "none"
        pos = np.nan_to_num(y.astype(np.float64)) > 0.5
        first = np.where(pos.any(axis=1), pos.argmax(axis=1), y.shape[1])
        names = list(class_names) if len(class_names) == y.shape[1] else [str(i) for i in range(y.shape[1])]
        return "categorical", first, names + ["none"]
    y = y.reshape(len(y))
    if y.dtype.kind in "iub" or (y.dtype.kind == "f" and np.isfinite(y).all()
                                 and np.all(y == np.round(y)) and len(np.unique(y)) <= max(20, len(class_names))):
        y = y.astype(np.int64)
        n = max(int(y.max()) + 1 if len(y) else 0, len(class_names))
        names = list(class_names) + [str(i) for i in range(len(class_names), n)]
        return "categorical", y, names
    return "continuous", y.astype(np.float64), []


def plot_embedding_map(emb, labels, class_names: Sequence[str], path, seed: int = 0,
                       task_kind: Optional[str] = None) -> Path:
    """Scatter the 2-D map of ``emb`` coloured by label (multilabel: first positive; regression: colormap).

    The label kind is inferred from ``labels`` (2-D: multilabel; integer-valued: classes;
    otherwise continuous) unless ``task_kind`` says ``"regression"``.
    """
    xy = embedding_2d(emb, seed)
    kind, values, names = _colour_labels(labels, class_names, task_kind)
    fig = figure(6.0, 5.0)
    ax = fig.add_subplot()
    size = 6 if len(xy) > 1000 else 14
    if kind == "continuous":
        keep = np.isfinite(values)
        sc = ax.scatter(xy[keep, 0], xy[keep, 1], c=values[keep], cmap="viridis", s=size)
        fig.colorbar(sc, ax=ax, label="target")
        ax.scatter(xy[~keep, 0], xy[~keep, 1], c="lightgrey", s=size)
    elif kind == "categorical":
        _scatter_classes(ax, xy, values, names, size)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=size)
    method = "t-SNE" if 5 < len(xy) <= TSNE_MAX_POINTS else "PCA"
    ax.set_title(f"embedding map ({method}, n={len(xy)})")
    ax.set_xticks([])
    ax.set_yticks([])
    return save_figure(fig, path)


def _scatter_classes(ax, xy, values, names, size) -> None:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    for c in np.unique(values):
        sel = values == c
        label = names[c] if 0 <= c < len(names) else ("unlabelled" if c < 0 else str(c))
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, color=cmap(int(c) % cmap.N), label=label)
    if len(names) <= 20:
        ax.legend(markerscale=2, fontsize="small", loc="best")
