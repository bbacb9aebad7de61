"""Metric tables: cell formatting, markdown tables and aligned console tables.

``results`` maps a row ("pretrained encoder", "random-init encoder", "raw features") to
``{metric: value}`` where a value is a float or a ``(mean, std)`` pair. Column names may carry
an evaluator prefix (``"linear/accuracy"``); :func:`group_by_evaluator` splits them into one
table per evaluator. Settings of a probe (``probe_*`` columns) are shown but never marked best.
``probe_single_class`` is not a column: a row whose probe predicted one class for all of test
gets :data:`SINGLE_CLASS_MARK` on its scores and a note under the table. A metric present but
NaN (it could not be computed) shows as ``n/a``; an absent one as ``—``.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping, Optional

import numpy as np

LOWER_IS_BETTER = ("rmse", "mae", "mse", "loss")
MISSING = "—"
NOT_COMPUTABLE = "n/a"
SINGLE_CLASS = "probe_single_class"
SINGLE_CLASS_MARK = "†"
SINGLE_CLASS_NOTE = (f"{SINGLE_CLASS_MARK} the probe predicts a single class for all of test although its labels hold "
                     "several: the score is a majority-class rate, not a measure of the features.")
NOT_COMPUTABLE_NOTE = f"{NOT_COMPUTABLE}: the metric cannot be computed on this test split (see the warnings)."


# ----------------------------------------------------------------------------- cells
def is_number(v) -> bool:
    """A real number (bools excluded)."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def mean_std(value) -> tuple[Optional[float], Optional[float]]:
    """``(mean, std)`` of a cell: a number gives ``(x, None)``; anything else ``(None, None)``."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return float(value[0]), float(value[1])
    if is_number(value):
        return float(value), None
    return None, None


def fmt_number(x: float) -> str:
    """Integers as such, 3 decimals in ``[1e-3, 1e4)``, else 3 significant digits; ``—`` if not finite."""
    if math.isnan(x):
        return NOT_COMPUTABLE
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == round(x) and abs(x) < 1e6:
        return str(int(round(x)))
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.3f}"
    return f"{x:.3g}"


def fmt_cell(value, setting: bool = False) -> str:
    """``mean ± std`` (or the number); a probe setting with no spread shows its value only."""
    mean, std = mean_std(value)
    if mean is None:
        return MISSING
    if not math.isfinite(mean) or std is None or not math.isfinite(std) or (
            std == 0 and (setting or float(mean).is_integer())):
        return fmt_number(mean)
    return f"{mean:.3f} ± {std:.3f}" if 1e-3 <= abs(mean) < 1e4 or mean == 0 else f"{mean:.3g} ± {std:.2g}"


def md_escape(text) -> str:
    """``text`` safe inside a markdown table cell (``|`` escaped)."""
    return str(text).replace("|", "\\|")


def metric_base(name: str) -> str:
    """The metric part of a column name (``"linear/accuracy"`` -> ``"accuracy"``)."""
    for sep in ("/", ":", "."):
        name = name.rsplit(sep, 1)[-1]
    return name


def lower_is_better(column: str) -> bool:
    """True for error-like metrics (``rmse``, ``loss``, ...), whatever the evaluator prefix."""
    return metric_base(column) in LOWER_IS_BETTER


def _is_hyperparameter(name: str) -> bool:
    return metric_base(name).startswith("probe_")


def single_class_rows(results: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Rows whose probe predicted a single class (in any seed)."""
    out = set()
    for model, row in results.items():
        for key, value in row.items():
            mean = mean_std(value)[0]
            if metric_base(key) == SINGLE_CLASS and mean is not None and mean > 0:
                out.add(model)
    return out


def table_notes(results: Mapping[str, Mapping[str, Any]], primary: str) -> list[str]:
    """Notes a table needs: single-class probes, metrics that could not be computed."""
    notes = []
    if single_class_rows(results):
        notes.append(SINGLE_CLASS_NOTE)
    cols = table_columns(results, primary)
    if any(fmt_cell(row.get(c)) == NOT_COMPUTABLE for row in results.values() for c in cols):
        primary_na = any(metric_base(c) == primary and fmt_cell(row.get(c)) == NOT_COMPUTABLE
                         for row in results.values() for c in cols)
        notes.append(NOT_COMPUTABLE_NOTE if not primary_na else
                     f"{NOT_COMPUTABLE}: the primary metric {primary} cannot be computed on this test split "
                     f"(see the warnings).")
    return notes


def _cell(row: Mapping[str, Any], column: str, marked: bool) -> str:
    setting = _is_hyperparameter(column)
    text = fmt_cell(row.get(column), setting)
    return text + SINGLE_CLASS_MARK if marked and not setting and text not in (MISSING, NOT_COMPUTABLE) else text


# ----------------------------------------------------------------------------- columns, best rows
def table_columns(results: Mapping[str, Mapping[str, Any]], primary: str) -> list[str]:
    """Metric columns in first-seen order, those naming the primary metric first, probe settings last."""
    cols = [k for k in dict.fromkeys(k for row in results.values() for k in row)
            if metric_base(k) != SINGLE_CLASS and is_number(mean_std(_first(results, k))[0])]
    first = [c for c in cols if metric_base(c) == primary]
    last = [c for c in cols if _is_hyperparameter(c)]
    return first + [c for c in cols if c not in first and c not in last] + last


def _first(results: Mapping[str, Mapping[str, Any]], key: str):
    return next(row[key] for row in results.values() if key in row)


def best_rows(results: Mapping[str, Mapping[str, Any]], column: str) -> set[str]:
    """Rows holding the best mean of ``column`` (ties all win); none for settings or a single row."""
    if _is_hyperparameter(column):
        return set()
    means = {m: mean_std(row.get(column))[0] for m, row in results.items()}
    means = {m: v for m, v in means.items() if v is not None and math.isfinite(v)}
    if len(means) < 2:
        return set()
    pick = min if lower_is_better(column) else max
    best = pick(means.values())
    return {m for m, v in means.items() if v == best}


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


# ----------------------------------------------------------------------------- markdown
def metric_table(results: Mapping[str, Mapping[str, Any]], primary: str) -> str:
    """Markdown table: one row per model, one column per metric, the best per column in bold."""
    cols = table_columns(results, primary)
    best = {c: best_rows(results, c) for c in cols}
    lines = ["| model | " + " | ".join(md_escape(c) for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    single = single_class_rows(results)
    for model, row in results.items():
        cells = []
        for c in cols:
            text = _cell(row, c, model in single)
            cells.append(f"**{text}**" if model in best[c] else text)
        lines.append(f"| {md_escape(model)} | " + " | ".join(cells) + " |")
    notes = table_notes(results, primary)
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")


def _value_text(value) -> str:
    if isinstance(value, (dict, list, tuple)):
        return f"`{json.dumps(value, default=str)}`"
    return md_escape(value)


def kv_table(items: Mapping[str, Any]) -> list[str]:
    """Markdown lines of a two-column ``key | value`` table (containers as inline JSON), blank line last."""
    lines = ["| key | value |", "|---|---|"]
    lines += [f"| {md_escape(k)} | {_value_text(v)} |" for k, v in items.items()]
    return lines + [""]


# ----------------------------------------------------------------------------- console
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
    single = single_class_rows(results)
    for model, row in results.items():
        rows.append([str(model)] + [_cell(row, c, model in single) + ("*" if model in best[c] else "")
                                    for c in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out + table_notes(results, primary)) + "\n"
