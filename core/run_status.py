"""Whether a run folder is a run: a failed run is removed or marked, never mistaken for a result.

A ``core run`` that fails before training wrote anything (its flags, data or objective were
refused) leaves no folder: :func:`settle_failure` removes the one it created. A run that fails
later keeps its folder (``last.ckpt`` can be resumed) with a ``FAILED`` file holding the
one-line reason; ``core evaluate`` and ``core embed`` refuse such a folder naming the reason
(:func:`check_not_failed`), ``core run --resume`` continues it and removes the mark when it
finishes (:func:`clear_failed`).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from core.errors import UserError
from core.io import atomic_write_text

FAILED = "FAILED"
TRAINING_OUTPUTS = ("last.ckpt", "encoder.safetensors", "seed-metrics.json", "metrics.json")


def failure(run_dir: Path) -> Optional[str]:
    """The reason ``run_dir`` failed, or ``None`` when it is not marked failed."""
    path = Path(run_dir) / FAILED
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or "no reason recorded"
    except OSError as e:
        return f"its {FAILED} file cannot be read ({e.strerror})"


def mark_failed(run_dir: Path, reason: str) -> None:
    """Write ``run_dir/FAILED`` with the one-line ``reason``."""
    atomic_write_text(Path(run_dir) / FAILED, " ".join(str(reason).split()) + "\n")


def clear_failed(run_dir: Path) -> None:
    (Path(run_dir) / FAILED).unlink(missing_ok=True)


def check_not_failed(run_dir: Path) -> None:
    """A ``UserError`` naming the reason when ``run_dir`` is marked failed."""
    reason = failure(run_dir)
    if reason is not None:
        raise UserError(f"{run_dir}: this run failed ({reason}); continue it with `core run --resume {run_dir}` "
                        f"or start a new run")


def training_outputs(run_dir: Path) -> dict:
    """``{relative path: mtime_ns}`` of what training and evaluation wrote under ``run_dir``."""
    run_dir = Path(run_dir)
    out = {}
    for name in TRAINING_OUTPUTS:
        for path in run_dir.rglob(name):
            try:
                out[str(path.relative_to(run_dir))] = path.stat().st_mtime_ns
            except OSError:
                continue
    return out


def reason_of(error: BaseException) -> str:
    """One line saying why a run stopped."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(error, UserError):
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def settle_failure(run_dir: Path, error: BaseException, *, created: bool, before: dict) -> str:
    """After ``error`` stopped a run in ``run_dir``: remove the folder when this command
    ``created`` it and training wrote nothing, else mark it failed when what training wrote
    changed since ``before`` (:func:`training_outputs`). Returns what was done: ``removed``,
    ``marked`` or ``kept``."""
    run_dir = Path(run_dir)
    after = training_outputs(run_dir) if run_dir.exists() else {}
    if created and not after:
        shutil.rmtree(run_dir, ignore_errors=True)
        return "removed"
    if after != before or created:
        try:
            mark_failed(run_dir, reason_of(error))
        except (OSError, UserError):
            return "kept"
        return "marked"
    return "kept"
