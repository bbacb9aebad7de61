"""User-facing errors: one clear line, exit code 2, no traceback (DESIGN §7)."""
from __future__ import annotations

import difflib
from typing import Iterable


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


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UserError:
    """A ``UserError`` for an unknown registered name, with close-match suggestions."""
    known = sorted(known)
    short = {k.split("/", 1)[-1]: k for k in known}
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    close += [short[c] for c in difflib.get_close_matches(name, list(short), n=3, cutoff=0.5)]
    close = list(dict.fromkeys(close))[:3]
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known) or 'none'}"
    return UserError(f"unknown {kind} '{name}': {hint} (see `core list {kind}s`)")
