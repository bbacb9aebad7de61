"""Atomic file writes: a reader never sees a half-written output (docs/design.md#errors-and-outputs).

Each writer puts the bytes in a temporary file in the target's directory, flushes and fsyncs
it, then ``os.replace``s it over the target (atomic on POSIX and Windows).
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Callable, Optional, Union

from core.errors import UserError

PathLike = Union[str, os.PathLike]


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_with(path: PathLike, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp)`` to write a temporary file next to ``path``, then move it into place.

    For libraries that write to a path themselves (``safetensors.save_file``,
    ``DataFrame.to_parquet``). The temporary name ends in ``.tmp``, not the target's suffix.
    On any error the temporary file is removed and ``path`` is left untouched; an ``OSError``
    (read-only folder, full disk, a file where a folder should be) becomes a one-line
    :class:`~core.errors.UserError` naming ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, cannot write a file there; name a file (or remove the folder)")
    tmp = _tmp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise cannot_write(path, e) from None
        raise
    return path


def cannot_write(path: PathLike, error: OSError) -> UserError:
    """The one-line ``UserError`` for an output that cannot be written (read-only place, a file
    where a folder should be, full disk)."""
    return UserError(f"{path}: cannot write ({error.strerror or error}); write to a folder that exists or can be "
                     f"created, that you can write to and that has free space")


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders are created). Returns the path."""
    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    return atomic_write_with(path, write)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically (numpy values and paths converted; NaN as in :mod:`json`)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, default=_json_default) + "\n")


def atomic_save_npy(path: PathLike, array) -> Path:
    """``np.save`` ``array`` to ``path`` atomically (no pickled objects)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)

    return atomic_write_with(path, write)


def _json_default(obj: Any):
    """Serialise numpy scalars/arrays and paths that :mod:`json` does not know."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def open_text(path: PathLike, encoding: str = "utf-8", newline: Optional[str] = None):
    """Open a text file for reading, gunzipped on the fly when its name ends in ``.gz``.

    A file that cannot be opened is a :class:`~core.errors.UserError` naming it.
    """
    import gzip
    import io

    path = Path(path)
    try:
        if path.name.lower().endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline=newline)
        return open(path, encoding=encoding, newline=newline)
    except OSError as e:
        raise UserError(f"{path}: cannot open ({e.strerror or e}); check permissions") from None


def read_text(path: PathLike, hint: str, encoding: str = "utf-8", newline: Optional[str] = None) -> str:
    """The whole text of ``path`` (see :func:`open_text`); undecodable or truncated content is a
    :class:`~core.errors.UserError` naming the file and ending with ``hint``."""
    import zlib

    with open_text(path, encoding, newline) as f:
        try:
            return f.read()
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as e:  # zlib: corrupt .gz data
            raise UserError(f"{path}: cannot read as UTF-8 text ({type(e).__name__}: {e}); {hint}") from None


def write_marked_section(path: PathLike, name: str, body: str, heading: str = "") -> Path:
    """Replace the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in the markdown
    file ``path`` with ``body`` (markers kept), atomically; when the markers are missing, append
    ``heading`` and the marked ``body`` at the end. How benchmark scripts rewrite their own
    section of docs/benchmarks.md and nothing else."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text[text.index(start):]:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + ("\n\n" if text.strip() else "") + (f"{heading.strip()}\n\n" if heading else "") + block + "\n"
    return atomic_write_text(path, text)


def new_folder(base: PathLike) -> Path:
    """Create and return ``base``, or ``base-1``, ``base-2``, ... when taken (parents made);
    ``OSError`` when it cannot be created (callers turn it into a one-line user error)."""
    base = Path(base)
    folder, i = base, 1
    while folder.exists():
        folder, i = Path(f"{base}-{i}"), i + 1
    folder.mkdir(parents=True)
    return folder
