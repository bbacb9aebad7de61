"""Tables and plots of a bench result (the content of ``bench.json``, see :mod:`core.bench`).

``bench.md`` (table, summary, bar plot, every metric per evaluator, settings), ``bench.png``
and the lines ``core bench`` prints. A result row is ``Row.to_dict()``: name, kind, uses_labels,
status, rank, summary (``{metric: {"mean", "std"}}``), per_seed, errors, train_seconds.
"""
from __future__ import annotations

import math
from pathlib import Path

from core.io import atomic_write_text
from core.plots import figure, save_figure
from core.tables import fmt_cell, group_by_evaluator, kv_table, md_escape, metric_table


def _summary_of(row: dict) -> dict:
    return {k: (v["mean"], v["std"]) for k, v in row["summary"].items()}


def _label(row: dict) -> str:
    return f"{row['name']} (labels)" if row["uses_labels"] else row["name"]


def _columns(result: dict) -> list[str]:
    """The primary metric under every evaluator, the first evaluator's first."""
    primary = result["primary_metric"]
    cols = [f"{e.split('/')[-1]}/{primary}" for e in result["evaluators"]]
    measured = [c for c in cols if any(c in _summary_of(r) for r in result["rows"])]  # skipped evaluators
    return measured or cols or [result["primary_column"]]


def bench_table(result: dict) -> str:
    """The markdown table: primary metric per evaluator (mean ± std), rank, training time, status."""
    cols = _columns(result)
    n_ranked = sum(1 for r in result["rows"] if r["rank"] is not None)
    lines = ["| objective | " + " | ".join(cols) + " | rank | train s/seed | status |",
             "|---|" + "---:|" * len(cols) + "---:|---:|---|"]
    for row in result["rows"]:
        summary = _summary_of(row)
        cells = []
        for c in cols:
            text = fmt_cell(summary.get(c))
            cells.append(f"**{text}**" if c == result["primary_column"] and row["rank"] == 1 else text)
        rank = f"{row['rank']}/{n_ranked}" if row["rank"] is not None else ("ref." if row["uses_labels"] and row["per_seed"] else "—")
        secs = [s for s in row["train_seconds"] if s is not None]
        timing = f"{sum(secs) / len(secs):.1f}" if secs else "—"
        status = row["status"]
        if row["errors"]:
            status += ": " + md_escape(next(iter(row["errors"].values())))
        lines.append(f"| {md_escape(_label(row))} | " + " | ".join(cells) + f" | {rank} | {timing} | {status} |")
    return "\n".join(lines) + "\n"


def summary_lines(result: dict) -> list[str]:
    """One line per row: metrics, rank, time or the error."""
    cols = _columns(result)
    n_ranked = sum(1 for r in result["rows"] if r["rank"] is not None)
    lines = []
    for row in result["rows"]:
        if not row["per_seed"] and row["errors"]:
            lines.append(f"{_label(row)}: FAILED on every seed: {next(iter(row['errors'].values()))}")
            continue
        summary = _summary_of(row)
        parts = [f"{c} {fmt_cell(summary.get(c))}" for c in cols]
        if row["rank"] is not None:
            parts.append(f"rank {row['rank']} of {n_ranked} label-free rows")
        elif row["uses_labels"]:
            parts.append("uses labels (reference, not ranked)")
        secs = [s for s in row["train_seconds"] if s is not None]
        if secs:
            parts.append(f"{sum(secs) / len(secs):.1f} s training per seed")
        if row["errors"]:
            parts.append(f"{row['status']} ({next(iter(row['errors'].values()))})")
        lines.append(f"{_label(row)}: " + "; ".join(parts))
    return lines


def headline(result: dict, objective: str = "core/lfr") -> str:
    """Where ``objective`` ranks: ``"core/lfr ranks 2 of 7 label-free rows by linear/accuracy (…)"``."""
    column = result["primary_column"]
    rows = {r["name"]: r for r in result["rows"]}
    ranked = sorted((r for r in result["rows"] if r["rank"] is not None), key=lambda r: r["rank"])
    if objective not in rows:
        return ""
    row = rows[objective]
    value = lambda r: fmt_cell(_summary_of(r).get(column))  # noqa: E731
    if row["rank"] is None:
        return f"{objective} has no result ({row['status']})."
    text = f"{objective} ranks {row['rank']} of {len(ranked)} label-free rows by {column} ({value(row)})"
    better = [r for r in ranked if r["rank"] < row["rank"]]
    if better:
        text += "; ahead of it: " + ", ".join(f"{_label(r)} {value(r)}" for r in better)
    else:
        nxt = [r for r in ranked if r is not row]
        if nxt:
            text += f"; next: {_label(nxt[0])} {value(nxt[0])}"
    refs = [r for r in result["rows"] if r["uses_labels"] and r["per_seed"]]
    if refs:
        text += "; with labels (reference): " + ", ".join(f"{r['name']} {value(r)}" for r in refs)
    return text + "."


def budget_text(result: dict) -> str:
    """The training budget in words: equal epochs or equal wall time, with batch size and optimiser."""
    b = result["budget"]
    common = f"batch {result['batch_size']}, Adam lr {result['lr']:g}, weight decay {result['weight_decay']:g}"
    if b["mode"] == "epochs":
        return (f"equal epochs: every objective trains {b['epochs']} epochs ({common}); LFR's predictor "
                f"epochs on cached embeddings come with each of its epochs")
    if b["mode"] == "steps":
        return (f"equal steps: every objective trains {b['steps']} encoder optimiser steps, in whole epochs "
                f"(at most {b['epoch_cap']}; {common}); LFR's predictor epochs on cached embeddings come with "
                f"each of its epochs")
    return (f"equal wall time: {b['minutes_per_run']:.2f} min of training per objective and seed "
            f"({b['minutes_total']:g} min in all; at most {b['epoch_cap']} epochs; {common})")


def plot_bench(result: dict, path) -> Path:
    """Bars of the primary metric per evaluator (mean, error bars = std over seeds)."""
    import numpy as np

    cols = _columns(result)
    rows = result["rows"]
    fig = figure(max(6.0, 1.0 + 0.9 * len(rows)), 4.2)
    ax = fig.add_subplot()
    width = 0.8 / max(len(cols), 1)
    x = np.arange(len(rows))
    lows, highs, all_means = [], [], []
    for j, c in enumerate(cols):
        means = np.array([_summary_of(r).get(c, (math.nan, math.nan))[0] for r in rows], dtype=float)
        stds = np.nan_to_num(np.array([_summary_of(r).get(c, (math.nan, math.nan))[1] for r in rows], dtype=float))
        pos = x - 0.4 + width * (j + 0.5)
        ok = np.isfinite(means)
        ax.bar(pos[ok], means[ok], width, yerr=stds[ok], capsize=3, label=c,
               hatch=None, edgecolor="black", linewidth=0.4)
        all_means += list(means[ok])
        lows += list(means[ok] - stds[ok])
        highs += list(means[ok] + stds[ok])
    if lows:
        lo, hi = min(lows), max(highs)
        pad = 0.15 * (hi - lo) or 0.01
        top = hi + pad
        if 0 <= min(all_means) and max(all_means) <= 1:  # a score bounded by 1: do not show room above it
            top = min(top, 1.0 + pad / 3)
        ax.set_ylim(max(0.0, lo - pad) if lo >= 0 else lo - pad, top)
    for i, r in enumerate(rows):
        if not r["per_seed"]:
            ax.text(i, ax.get_ylim()[0], " failed", rotation=90, ha="center", va="bottom", color="crimson")
    ax.set_xticks(x)
    ax.set_xticklabels([_label(r) for r in rows], rotation=30, ha="right")
    ax.set_ylabel(f"{result['primary_metric']} (axis zoomed)")
    ax.set_title(f"{result['dataset']} ({result['encoder']}): mean ± std over {len(result['seeds'])} seeds")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def write_bench_report(run_dir: Path, result: dict) -> Path:
    """``bench.md`` (table, summary lines, plot, every metric per evaluator, settings) + ``bench.png``."""
    plot_bench(result, Path(run_dir) / "bench.png")
    lines = [f"# core bench: {result['dataset']} with {result['encoder']}", "",
             f"Budget: {budget_text(result)}. Seeds {', '.join(map(str, result['seeds']))}; mean ± std over seeds. "
             f"Frozen-embedding probes choose their regularisation on val and are scored on test. Rank: by "
             f"{result['primary_column']} among label-free rows (the supervised reference uses the train labels).",
             "", bench_table(result), headline(result), "", "![bench](bench.png)", "", "## Summary", ""]
    lines += [f"- {s}" for s in summary_lines(result)] + [""]
    if result["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in result["notes"]] + [""]
    lines += ["## Every metric", ""]
    table = {_label(r): _summary_of(r) for r in result["rows"] if r["per_seed"]}
    for name, group in group_by_evaluator(table).items():
        lines += ([f"### {name}", ""] if name else []) + [metric_table(group, result["primary_metric"])]
    lines += ["## Settings", ""] + kv_table({
        "plugin": result["plugin"], "dataset": result["dataset"], "data": result["data"],
        "encoder": result["encoder"], "dim": result["dim"], "evaluators": result["evaluators"],
        "objective parameters": result["objective_params"], "split sizes": result["dataset_info"].get("sizes"),
        "machine": result["machine"], "date": result["date"]})
    return atomic_write_text(Path(run_dir) / "bench.md", "\n".join(lines))
