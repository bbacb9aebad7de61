"""User-facing errors: one clear line, exit code 2, no traceback (docs/design.md#errors-and-outputs)."""
from __future__ import annotations

import difflib
import logging
from typing import Iterable

log = logging.getLogger("core")


class UserError(Exception):
    """An error caused by the user's input (bad path, unknown name, malformed file).

    The CLI prints ``str(err)`` as a single line and exits with code 2. The message must name
    the offending file/record and say how to fix it.
    """

    exit_code = 2


class BadRecord(UserError):
    """One record of a corpus cannot be read. ``record`` names it (file path or id)."""

    def __init__(self, record: str, reason: str, fix: str = ""):
        self.record = record
        self.reason = reason
        msg = f"{record}: {reason}"
        if fix:
            msg += f"; {fix}"
        super().__init__(msg)


def printable(text) -> str:
    """``text`` with control and line-separator characters escaped (``\\x0b``), so that a message
    quoting a damaged file stays one line."""
    text = str(text)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


SKIP_FIX = "fix or remove it, or pass --on-bad-record skip to leave it out"


class BadRecords:
    """A corpus' bad records under ``--on-bad-record``: raise the first (``error``) or collect them (``skip``).

    ``skipped`` holds ``(record, reason)`` pairs and ``failed`` one dict per record (``id``,
    ``reason`` and any extra columns, e.g. ``input_index``), as :class:`core.specs.LoadedDataset`
    takes them; ``core embed`` writes each failed record as a row with NaN embeddings. Files of a
    corpus folder that are not read at all go through :meth:`not_read`, in both modes.
    """

    def __init__(self, mode: str = "error"):
        if mode not in ("error", "skip"):
            raise UserError(f"on_bad_record must be 'error' or 'skip', got {mode!r}")
        self.mode = mode
        self.skipped: list[tuple[str, str]] = []
        self.failed: list[dict] = []

    def bad(self, where: str, reason: str, fix: str = SKIP_FIX, **columns) -> None:
        """Record ``where`` (file, file:line or id) as unreadable for ``reason``; raises in ``error`` mode.
        Text quoted from a file is escaped (:func:`printable`) so that every message stays one line."""
        where, reason = printable(where), printable(reason)
        if self.mode == "error":
            raise BadRecord(where, reason, fix)
        self._keep(where, reason, columns)

    def not_read(self, where, reason: str, **columns) -> None:
        """List a file of the corpus that no reader uses (``notes.txt`` in a folder of records), in
        either mode (never raises): nothing is dropped silently. Like a skipped record it is a
        ``skipped.csv`` line and a ``failed`` row (``core embed`` writes one row per input)."""
        where, reason = printable(where), printable(reason)
        log.info("%s: %s", where, reason)
        self._keep(where, reason, columns)

    def _keep(self, where: str, reason: str, columns: dict) -> None:
        self.skipped.append((where, reason))
        self.failed.append({"id": str(columns.pop("id", where)), "reason": reason, **columns})


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UserError:
    """A ``UserError`` for an unknown registered name, with close-match suggestions."""
    known = sorted(known)
    short = {k.split("/", 1)[-1]: k for k in known}
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    close += [short[c] for c in difflib.get_close_matches(name, list(short), n=3, cutoff=0.5)]
    close = list(dict.fromkeys(close))[:3]
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known) or 'none'}"
    return UserError(f"unknown {kind} '{name}': {hint} (see `core list {kind}s`)")
