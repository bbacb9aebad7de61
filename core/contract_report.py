"""The verdicts of the contract checker: one :class:`CheckResult` per check, gathered in a
:class:`ContractReport`, raised as :class:`ContractError`; and the helpers that word a
verdict's message (input spec, exception, where the plugin's code raised)."""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Optional

from core.specs import InputSpec

__all__ = ["CheckResult", "ContractReport", "ContractError", "describe", "error_text", "raised_at", "shape_of"]


@dataclass
class CheckResult:
    """One verdict: ``kind`` (dataset, encoder, ...), registered ``name``, ``ok``, ``message``."""

    kind: str
    name: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.kind:12s} {self.name}: {self.message}"


@dataclass
class ContractReport:
    """All verdicts for one plugin."""

    plugin: str
    version: str = ""
    results: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return [r for r in self.results if not r.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, kind: str, name: str, ok: bool, message: str) -> None:
        self.results.append(CheckResult(kind, name, ok, message))

    def format(self) -> str:
        head = f"core check {self.plugin}" + (f" (version {self.version})" if self.version else "")
        lines = [head] + ["  " + r.line() for r in self.results]
        n, bad = len(self.results), len(self.failures)
        lines.append(f"{n} checks, {bad} failed" if bad else f"{n} checks passed")
        return "\n".join(lines)

    def raise_for_failures(self) -> "ContractReport":
        if not self.ok:
            raise ContractError(self)
        return self


class ContractError(AssertionError):
    """Raised by :meth:`ContractReport.raise_for_failures`; its message lists the failures."""

    def __init__(self, report: ContractReport):
        self.report = report
        fails = "\n".join("  " + r.line() for r in report.failures)
        super().__init__(f"plugin '{report.plugin}' breaks the core contract:\n{fails}")


# ----------------------------------------------------------------------------- messages
def describe(spec: InputSpec) -> str:
    """``modality (shape)[, vocab V]``: an input spec in a message."""
    extra = f", vocab {spec.vocab_size}" if spec.vocab_size else ""
    return f"{spec.modality} {tuple(spec.shape)}{extra}"


def error_text(e: BaseException) -> str:
    """``Type: first line of the message`` of an exception."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def raised_at(e: BaseException) -> str:
    """`` (at file:line)``: the innermost frame outside the checker (the plugin's code) that raised."""
    frames = traceback.extract_tb(e.__traceback__)
    for fr in reversed(frames):
        if "/core/contract" not in fr.filename.replace("\\", "/"):
            return f" (at {fr.filename.rsplit('/', 1)[-1]}:{fr.lineno})"
    return ""


def shape_of(x) -> Optional[tuple]:
    return tuple(x.shape) if hasattr(x, "shape") else None
