"""The run report: ``report.md`` with a metric table per evaluator, a loss curve and an embedding map.

``results`` maps a model row ("pretrained encoder", "random-init encoder", "raw features") to
``{metric: value}`` where a value is a float or a ``(mean, std)`` pair; :func:`write_report`
also accepts one such mapping per evaluator. Tables come from :mod:`core.tables`, figures
from :mod:`core.plots`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from core.io import atomic_write_text
from core.plots import plot_embedding_map, plot_loss_curve
from core.tables import group_by_evaluator, kv_table, md_escape, metric_table


def _is_nested(results: Mapping) -> bool:
    """True for ``{evaluator: {model: {metric: value}}}``."""
    rows = list(results.values())
    return bool(rows) and all(isinstance(r, Mapping) and r and all(isinstance(v, Mapping) for v in r.values())
                              for r in rows)


def _results_section(results: Mapping, primary: str, protocols: Mapping[str, Mapping[str, str]]) -> list[str]:
    lines = ["## Results", "", f"Primary metric: **{primary}** (frozen embeddings; probe hyper-parameters "
             "chosen by k-fold CV over train+val with few labels, else on the validation split; scored on test).", ""]
    if not results:
        return lines + ["No results.", ""]
    groups = results.items() if _is_nested(results) else group_by_evaluator(results).items()
    for name, table in groups:
        if name:
            lines += [f"### {name}", ""]
        lines += [metric_table(table, primary)]
        used = (protocols or {}).get(name) or {}
        if used:
            lines += ["Protocol:", ""] + [f"- {md_escape(model)}: {md_escape(text)}" for model, text in used.items()]
            lines += [""]
    return lines


def _warnings_section(warnings: Sequence[str]) -> list[str]:
    if not warnings:
        return []
    return ["## Warnings", ""] + [f"- **warning:** {md_escape(w)}" for w in warnings] + [""]


def _skipped_count(info: Mapping) -> int:
    skipped = info.get("skipped", 0)
    return skipped if isinstance(skipped, int) else len(skipped or ())


def _dataset_section(info: Mapping) -> list[str]:
    lines = ["## Dataset", ""]
    shown = {k: v for k, v in info.items() if k not in ("splits", "sizes", "skipped", "skipped_file", "warnings")}
    splits = info.get("splits") or info.get("sizes") or {}
    if splits:
        shown["split sizes"] = ", ".join(f"{k}: {v}" for k, v in splits.items())
    shown["skipped records"] = _skipped_count(info)
    lines += kv_table(shown)
    if _skipped_count(info) and info.get("skipped_file"):
        lines += [f"Skipped record ids: [{info['skipped_file']}]({info['skipped_file']})", ""]
    return lines


def write_report(run_dir, *, title: str, config: Mapping[str, Any], results: Mapping,
                 primary_metric: str, history: Sequence[Mapping] = (), embedding=None,
                 labels=None, class_names: Sequence[str] = (), dataset_info: Mapping[str, Any] = None,
                 notes: Sequence[str] = (), seed: int = 0, task_kind: Optional[str] = None,
                 warnings: Sequence[str] = (), protocols: Optional[Mapping[str, Mapping[str, str]]] = None) -> Path:
    """Write ``report.md``, ``loss_curve.png`` and ``embedding_map.png`` into ``run_dir``.

    ``results`` is ``{model: {metric: value}}`` or ``{evaluator: {model: {metric: value}}}``;
    either way one table per evaluator (flat keys like ``"linear/accuracy"`` are grouped by
    prefix). ``dataset_info`` may hold ``name``, ``source``, ``splits`` or ``sizes``
    (``{split: size}``), ``skipped`` (count or list) and ``skipped_file`` (relative link);
    other keys are listed as they are.
    The embedding map is skipped when ``embedding`` is None; ``task_kind`` is passed to
    :func:`plot_embedding_map`. ``warnings`` (degenerate data, metrics that cannot be
    computed) are listed under the title; ``protocols`` (``{evaluator: {model row: text}}``)
    under each evaluator's table. Returns the report path.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    lines += _warnings_section(warnings)
    lines += _results_section(results, primary_metric, protocols or {})
    plot_loss_curve(history, run_dir / "loss_curve.png")
    lines += ["## Training", "", "![loss curve](loss_curve.png)", ""]
    if embedding is not None and len(embedding):
        plot_embedding_map(embedding, labels, class_names, run_dir / "embedding_map.png", seed, task_kind)
        lines += ["## Embedding map", "", f"{len(embedding)} embeddings of the pretrained encoder.", "",
                  "![embedding map](embedding_map.png)", ""]
    lines += _dataset_section(dataset_info or {})
    lines += ["## Configuration", ""] + kv_table(config or {})
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return atomic_write_text(run_dir / "report.md", "\n".join(lines))
