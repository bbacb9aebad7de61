"""The run report: ``report.md`` with a metric table, a loss curve and an embedding map.

Plots use matplotlib's Agg canvas directly (no pyplot, no global backend switch) and are
written atomically through :mod:`core.io`. ``results`` maps a model row ("LFR",
"random-init encoder", "raw features") to ``{metric: value}`` where a value is a float or a
``(mean, std)`` pair; :func:`write_report` also accepts one such mapping per evaluator.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from core.io import atomic_write_bytes, atomic_write_text

LOWER_IS_BETTER = ("rmse", "mae", "mse", "loss")
TSNE_MAX_POINTS = 5000
_MISSING = "—"


# ----------------------------------------------------------------------------- plots


def _figure(width: float = 6.0, height: float = 4.0):
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
    fig = _figure()
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
            if key == "epoch" or not _is_number(value) or not math.isfinite(float(value)):
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
    fig = _figure(6.0, 5.0)
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


# ----------------------------------------------------------------------------- tables


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _mean_std(value) -> tuple[Optional[float], Optional[float]]:
    """``(mean, std)`` of a cell: a number gives ``(x, None)``; anything else ``(None, None)``."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]), float(value[1])
    if _is_number(value):
        return float(value), None
    return None, None


def _fmt_number(x: float) -> str:
    if not math.isfinite(x):
        return _MISSING
    if x == round(x) and abs(x) < 1e6:
        return str(int(round(x)))
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.3f}"
    return f"{x:.3g}"


def _fmt_cell(value, setting: bool = False) -> str:
    """``mean ± std`` (or the number); a probe setting with no spread shows its value only."""
    mean, std = _mean_std(value)
    if mean is None or not math.isfinite(mean):
        return _MISSING
    if std is None or (std == 0 and (setting or float(mean).is_integer())):
        return _fmt_number(mean)
    return f"{mean:.3f} ± {std:.3f}" if 1e-3 <= abs(mean) < 1e4 or mean == 0 else f"{mean:.3g} ± {std:.2g}"


def _metric_base(name: str) -> str:
    """The metric part of a column name (``"linear/accuracy"`` -> ``"accuracy"``)."""
    for sep in ("/", ":", "."):
        name = name.rsplit(sep, 1)[-1]
    return name


def _is_hyperparameter(name: str) -> bool:
    return _metric_base(name).startswith("probe_")


def table_columns(results: Mapping[str, Mapping[str, Any]], primary: str) -> list[str]:
    """Metric columns in first-seen order, those naming the primary metric first, probe settings last."""
    cols = list(dict.fromkeys(k for row in results.values() for k in row))
    first = [c for c in cols if _metric_base(c) == primary]
    last = [c for c in cols if _is_hyperparameter(c)]
    return first + [c for c in cols if c not in first and c not in last] + last


def best_rows(results: Mapping[str, Mapping[str, Any]], column: str) -> set[str]:
    """Rows holding the best mean of ``column`` (ties all win); none for settings or a single row."""
    if _is_hyperparameter(column):
        return set()
    means = {m: _mean_std(row.get(column))[0] for m, row in results.items()}
    means = {m: v for m, v in means.items() if v is not None and math.isfinite(v)}
    if len(means) < 2:
        return set()
    pick = min if _metric_base(column) in LOWER_IS_BETTER else max
    best = pick(means.values())
    return {m for m, v in means.items() if v == best}


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def metric_table(results: Mapping[str, Mapping[str, Any]], primary: str) -> str:
    """Markdown table: one row per model, one column per metric, the best per column in bold."""
    cols = table_columns(results, primary)
    best = {c: best_rows(results, c) for c in cols}
    lines = ["| model | " + " | ".join(_md_escape(c) for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for model, row in results.items():
        cells = []
        for c in cols:
            text = _fmt_cell(row.get(c), _is_hyperparameter(c))
            cells.append(f"**{text}**" if model in best[c] else text)
        lines.append(f"| {_md_escape(model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def group_by_evaluator(results: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
    """Split ``{model: {"linear/accuracy": v, "knn/accuracy": v}}`` into one table per prefix.

    Returns ``{prefix: {model: {metric: v}}}``, or ``{"": results}`` when some key has no prefix.
    """
    keys = [k for row in results.values() for k in row]
    if not keys or not all("/" in k for k in keys):
        return {"": dict(results)}
    groups: dict[str, dict] = {}
    for model, row in results.items():
        for key, value in row.items():
            prefix, metric = key.rsplit("/", 1)
            groups.setdefault(prefix, {m: {} for m in results})[model][metric] = value
    return groups


def format_console_table(results: Mapping[str, Mapping[str, Any]], primary: str) -> str:
    """Plain-text aligned table(s) for the terminal, one per evaluator prefix; best marked ``*``."""
    blocks = []
    for name, table in group_by_evaluator(results).items():
        blocks.append((f"[{name}]\n" if name else "") + _console_block(table, primary))
    return "\n".join(blocks)


def _console_block(results: Mapping[str, Mapping[str, Any]], primary: str) -> str:
    cols = table_columns(results, primary)
    best = {c: best_rows(results, c) for c in cols}
    rows = [["model"] + cols]
    for model, row in results.items():
        rows.append([str(model)] + [_fmt_cell(row.get(c), _is_hyperparameter(c)) + ("*" if model in best[c] else "")
                                    for c in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- report


def _is_nested(results: Mapping) -> bool:
    """True for ``{evaluator: {model: {metric: value}}}``."""
    rows = list(results.values())
    return bool(rows) and all(isinstance(r, Mapping) and r and all(isinstance(v, Mapping) for v in r.values())
                              for r in rows)


def _results_section(results: Mapping, primary: str) -> list[str]:
    lines = ["## Results", "", f"Primary metric: **{primary}** (frozen embeddings; "
             "probe hyper-parameters chosen on the validation split, scored on test).", ""]
    if not results:
        return lines + ["No results.", ""]
    groups = results.items() if _is_nested(results) else group_by_evaluator(results).items()
    for name, table in groups:
        if name:
            lines += [f"### {name}", ""]
        lines += [metric_table(table, primary)]
    return lines


def _value_text(value) -> str:
    if isinstance(value, (dict, list, tuple)):
        return f"`{json.dumps(value, default=str)}`"
    return _md_escape(value)


def _kv_table(items: Mapping[str, Any]) -> list[str]:
    lines = ["| key | value |", "|---|---|"]
    lines += [f"| {_md_escape(k)} | {_value_text(v)} |" for k, v in items.items()]
    return lines + [""]


def _skipped_count(info: Mapping) -> int:
    skipped = info.get("skipped", 0)
    return skipped if isinstance(skipped, int) else len(skipped or ())


def _dataset_section(info: Mapping) -> list[str]:
    lines = ["## Dataset", ""]
    shown = {k: v for k, v in info.items() if k not in ("splits", "sizes", "skipped", "skipped_file")}
    splits = info.get("splits") or info.get("sizes") or {}
    if splits:
        shown["split sizes"] = ", ".join(f"{k}: {v}" for k, v in splits.items())
    shown["skipped records"] = _skipped_count(info)
    lines += _kv_table(shown)
    if _skipped_count(info) and info.get("skipped_file"):
        lines += [f"Skipped record ids: [{info['skipped_file']}]({info['skipped_file']})", ""]
    return lines


def write_report(run_dir, *, title: str, config: Mapping[str, Any], results: Mapping,
                 primary_metric: str, history: Sequence[Mapping] = (), embedding=None,
                 labels=None, class_names: Sequence[str] = (), dataset_info: Mapping[str, Any] = None,
                 notes: Sequence[str] = (), seed: int = 0, task_kind: Optional[str] = None) -> Path:
    """Write ``report.md``, ``loss_curve.png`` and ``embedding_map.png`` into ``run_dir``.

    ``results`` is ``{model: {metric: value}}`` or ``{evaluator: {model: {metric: value}}}``;
    either way one table per evaluator (flat keys like ``"linear/accuracy"`` are grouped by
    prefix). ``dataset_info`` may hold ``name``, ``source``, ``splits`` or ``sizes``
    (``{split: size}``), ``skipped`` (count or list) and ``skipped_file`` (relative link);
    other keys are listed as they are.
    The embedding map is skipped when ``embedding`` is None; ``task_kind`` is passed to
    :func:`plot_embedding_map`. Returns the report path.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    lines += _results_section(results, primary_metric)
    plot_loss_curve(history, run_dir / "loss_curve.png")
    lines += ["## Training", "", "![loss curve](loss_curve.png)", ""]
    if embedding is not None and len(embedding):
        plot_embedding_map(embedding, labels, class_names, run_dir / "embedding_map.png", seed, task_kind)
        lines += ["## Embedding map", "", f"{len(embedding)} embeddings of the pretrained encoder.", "",
                  "![embedding map](embedding_map.png)", ""]
    lines += _dataset_section(dataset_info or {})
    lines += ["## Configuration", ""] + _kv_table(config or {})
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return atomic_write_text(run_dir / "report.md", "\n".join(lines))
