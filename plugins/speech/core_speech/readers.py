"""Reading a corpus: which clips, with which label, speaker and split, and each clip's samples.

* **manifest**: a CSV/TSV file (or a folder holding ``manifest.csv``/``.tsv``, or exactly one
  CSV/TSV) with a path column (relative to the manifest's folder, or absolute), optional label,
  speaker and ``split`` (train/val/test) columns; other columns are ignored.
* **folders** (Speech-Commands style): ``root/<class>/<clip>``; the sub-folder names are the
  labels, folders starting with ``_`` or ``.`` (``_background_noise_``) are ignored. Speakers come
  from the file names through ``speaker_regex`` (default ``<speaker>_nohash_<n>``, used only when
  every file matches it).
* **plain**: a folder of clips (searched recursively) or one clip, no labels: for unlabelled
  pretraining (``--option unlabelled=PATH``) and for ``core embed``.

Nothing in a folder is dropped silently: with class folders or a plain folder, every file that
is not read (an unsupported type such as ``.mp3``, or audio outside the class folders) is in
:attr:`Corpus.not_read` and listed in ``skipped.csv`` under either ``--on-bad-record`` mode;
only hidden files and the contents of folders starting with ``.`` or ``_`` (Speech Commands'
``_background_noise_``) are left out unlisted.

Costs are bounded: only the middle ``max_seconds`` of a clip are decoded (soundfile seeks, an
hour-long file is never read whole); a header with a sample rate outside
:data:`MIN_RATE`..:data:`MAX_RATE` Hz, or more than :data:`MAX_DECODED_VALUES` frames x
channels to decode, is a bad record.

:func:`read_audio` decodes one clip with soundfile. Every problem with a file is a
:class:`core.errors.BadRecord` naming it: unreadable or unknown format (libsndfile's message),
empty, truncated (a WAV whose header declares more sample frames than the file holds:
libsndfile silently reads the part that is there, so the RIFF header is checked here), or
non-finite samples.
"""
from __future__ import annotations

import csv
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import BadRecord, UserError
from core.io import read_text
from core.splits import split_name
from core_speech.options import Options

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
MIN_RATE, MAX_RATE = 1000, 768000  # Hz: a header outside this range is damaged
MAX_DECODED_VALUES = 1 << 28  # frames x channels decoded from one file (1 GiB of float32)
SKIP_FIX = "fix or remove the file, or pass --on-bad-record skip to leave it out"

PATH_NAMES = ("path", "file", "filename", "file_name", "filepath", "file_path", "audio", "audio_path", "wav",
              "clip", "utterance")
LABEL_NAMES = ("label", "class", "word", "keyword", "digit", "target", "category")
SPEAKER_NAMES = ("speaker", "speaker_id", "spk", "spk_id", "client_id", "voice", "talker")
SPEECH_COMMANDS = r"^(.+?)_nohash_"


@dataclass(frozen=True)
class Entry:
    """One clip of a corpus: ``where`` names it in messages (``file`` or ``manifest:line``)."""

    path: Path
    where: str
    id: str
    label: Optional[str] = None
    speaker: Optional[str] = None
    split: Optional[str] = None


@dataclass
class Corpus:
    entries: list
    layout: str
    source: str
    has_labels: bool
    has_speakers: bool
    not_read: list = field(default_factory=list)  # (file, reason) of files in the folder that are not read


def _audio_files(folder: Path) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _files_not_read(root: Path, read, layout: str) -> list:
    """``(file, reason)`` of every file under ``root`` not in ``read`` (module docstring)."""
    read = set(read)
    out = []
    for p in sorted(root.rglob("*")):
        parts = p.relative_to(root).parts
        if (p in read or not p.is_file() or any(part.startswith(".") for part in parts)
                or any(part.startswith("_") for part in parts[:-1])):
            continue
        if p.suffix.lower() not in AUDIO_SUFFIXES:
            out.append((p, f"unsupported file type '{p.suffix or p.name}' (read: {', '.join(AUDIO_SUFFIXES)}); "
                           f"convert it (e.g. ffmpeg -i clip.mp3 clip.flac) or move it out of the corpus"))
        elif layout == "folders":
            out.append((p, "audio outside the class folders (no label); move it into a class sub-folder"))
    return out


def _find_manifest(folder: Path) -> Optional[Path]:
    for name in ("manifest.csv", "manifest.tsv"):
        if (folder / name).is_file():
            return folder / name
    tables = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".tsv"))
    return tables[0] if len(tables) == 1 else None


def _class_folders(folder: Path) -> list:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(("_", "."))
                  and any(p.suffix.lower() in AUDIO_SUFFIXES for p in d.rglob("*") if p.is_file()))


def detect_layout(root: Path, opts: Options) -> str:
    if opts.layout != "auto":
        return opts.layout
    if root.is_file():
        if root.suffix.lower() in (".csv", ".tsv", ".txt"):
            return "manifest"
        if root.suffix.lower() in AUDIO_SUFFIXES:
            return "plain"
        raise UserError(f"{root}: not a manifest (.csv/.tsv) or an audio file ({', '.join(AUDIO_SUFFIXES)}); "
                        f"pass a folder, a manifest or a clip")
    if _find_manifest(root):
        return "manifest"
    if _class_folders(root):
        return "folders"
    if _audio_files(root):
        return "plain"
    raise UserError(f"{root}: found no audio ({', '.join(AUDIO_SUFFIXES)}) and no manifest; point --data at "
                    f"class sub-folders, a manifest (path,label[,speaker]) or a folder of clips")


def read_corpus(root, opts: Options) -> Corpus:
    """The clips at ``root`` with their labels/speakers/splits, in a stable order."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"{root}: no such file or folder; check the path")
    layout = detect_layout(root, opts)
    if layout == "manifest":
        return read_manifest(root if root.is_file() else _manifest_in(root), opts)
    if layout == "folders":
        return read_class_folders(root, opts)
    return read_plain(root)


def _manifest_in(folder: Path) -> Path:
    found = _find_manifest(folder)
    if found is None:
        raise UserError(f"{folder}: layout=manifest but no manifest.csv/.tsv (or single CSV/TSV) in it; "
                        f"pass the manifest file itself")
    return found


def _column(columns, wanted: Optional[str], names, what: str, flag: str, path: Path, required: bool) -> Optional[str]:
    lower = {c.strip().lower(): c for c in columns}
    if wanted:
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise UserError(f"{path}: no {what} column '{wanted}'; it has {', '.join(columns)} (pass {flag} NAME)")
    for n in names:
        if n in lower:
            return lower[n]
    if required:
        raise UserError(f"{path}: found no {what} column among {', '.join(columns)}; pass {flag} NAME")
    return None


def read_manifest(path: Path, opts: Options) -> Corpus:
    text = read_text(path, "write the manifest as UTF-8 CSV/TSV: path,label[,speaker]", encoding="utf-8-sig")
    delimiter = "\t" if path.suffix.lower() == ".tsv" or ("\t" in text.split("\n", 1)[0]) else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows:
        raise UserError(f"{path}: the manifest is empty; write a header (path,label[,speaker]) and one row per clip")
    header = [c.strip() for c in rows[0][1]]
    path_col = _column(header, opts.path_col, PATH_NAMES, "path", "--path-col", path, True)
    label_col = _column(header, opts.label_col, LABEL_NAMES, "label", "--label-col", path, False)
    speaker_col = _column(header, opts.speaker_col, SPEAKER_NAMES, "speaker", "--speaker-col", path, False)
    split_col = _column(header, None, ("split", "subset", "fold"), "split", "", path, False)
    index = {c: header.index(c) for c in header}
    entries = []
    for line, row in rows[1:]:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise UserError(f"{where}: {len(row)} fields but the header has {len(header)}; fix the row")
        get = lambda col: row[index[col]].strip() if col else None  # noqa: E731
        rel = get(path_col)
        if not rel:
            raise UserError(f"{where}: empty '{path_col}'; give the clip's path")
        clip = Path(rel) if Path(rel).is_absolute() else path.parent / rel
        try:
            split = split_name(get(split_col))
        except ValueError:
            raise UserError(f"{where}: split '{get(split_col)}' is not train, val or test") from None
        entries.append(Entry(clip, f"{clip} ({where})", rel, get(label_col) or None if label_col else None,
                             get(speaker_col) or None if speaker_col else None, split))
    _unique(entries, path)
    return Corpus(entries, "manifest", f"{path} (manifest: path '{path_col}', label '{label_col}', "
                                       f"speaker '{speaker_col}')", label_col is not None, speaker_col is not None)


def read_class_folders(root: Path, opts: Options) -> Corpus:
    folders = _class_folders(root)
    if not folders:
        raise UserError(f"{root}: layout=folders but no sub-folder holds audio; put clips in root/<class>/")
    pairs = [(d.name, p) for d in folders for p in _audio_files(d)]
    pattern = re.compile(opts.speaker_regex or SPEECH_COMMANDS)
    matches = [pattern.search(p.name) for _, p in pairs]
    if opts.speaker_regex:
        bad = next((p for (_, p), m in zip(pairs, matches) if not (m and m.groups())), None)
        if bad is not None:
            raise UserError(f"{bad}: the file name does not match speaker_regex {opts.speaker_regex!r} (its first "
                            f"group is the speaker); fix the regex or the name")
    use = all(m and m.groups() for m in matches)
    entries = [Entry(p, str(p), str(p.relative_to(root)), label, m.group(1) if use else None)
               for (label, p), m in zip(pairs, matches)]
    return Corpus(entries, "folders", f"{root} (class folders: {len(folders)} classes"
                                      f"{', speakers from file names' if use else ''})", True, use,
                  _files_not_read(root, [p for _, p in pairs], "folders"))


def read_plain(root: Path) -> Corpus:
    files = [root] if root.is_file() else _audio_files(root)
    if not files:
        raise UserError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in it")
    base = root.parent if root.is_file() else root
    entries = [Entry(p, str(p), str(p.relative_to(base))) for p in files]
    not_read = [] if root.is_file() else _files_not_read(root, files, "plain")
    return Corpus(entries, "plain", f"{root} (plain folder, unlabelled)", False, False, not_read)


def _unique(entries, path) -> None:
    seen = {}
    for e in entries:
        if e.id in seen:
            raise UserError(f"{path}: the clip '{e.id}' is listed twice ({seen[e.id]} and {e.where}); "
                            f"list each clip once")
        seen[e.id] = e.where


def declared_wav_frames(path: Path) -> Optional[int]:
    """Sample frames a RIFF/WAVE header declares (``data`` chunk size / block align), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE" or head[:4] == b"RF64":
                return None
            block_align = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = f.read(size + (size & 1))
                    block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
                elif name == b"data":
                    return size // block_align if block_align else None
                else:
                    f.seek(size + (size & 1), 1)
    except OSError:
        return None


def read_audio(path: Path, where: str, max_seconds: Optional[float] = None) -> tuple[np.ndarray, int]:
    """``(samples (L,) float32 mono, sample_rate)`` of an audio file; channels are averaged.

    With ``max_seconds`` only the middle ``ceil(max_seconds * rate)`` sample frames are decoded
    (the file is seeked, never read whole), so an hour-long recording costs what a clip does.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            rate, frames, channels = int(f.samplerate), int(f.frames), int(f.channels)
            if not MIN_RATE <= rate <= MAX_RATE:
                raise BadRecord(where, f"implausible sample rate {rate} Hz (accepted: {MIN_RATE}..{MAX_RATE}); the "
                                       f"header is damaged", SKIP_FIX)
            want = frames if max_seconds is None else min(frames, int(np.ceil(max_seconds * rate)))
            if want * channels > MAX_DECODED_VALUES:
                raise BadRecord(where, f"too large to decode ({want} frames x {channels} channels, more than "
                                       f"{MAX_DECODED_VALUES} values); lower --max-seconds or split the file",
                                SKIP_FIX)
            if want < frames:
                f.seek((frames - want) // 2)
            data = f.read(want, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as e:
        reason = str(e).replace(f"'{path}'", "it").replace(str(path), "it").strip() or type(e).__name__
        raise BadRecord(where, f"unreadable audio ({reason.splitlines()[0]})", SKIP_FIX) from None
    if len(data) == 0:
        raise BadRecord(where, "empty audio (0 samples)", SKIP_FIX)
    if Path(path).suffix.lower() == ".wav":
        declared = declared_wav_frames(Path(path))
        if declared is not None and declared > frames:
            raise BadRecord(where, f"truncated WAV (header declares {declared} samples, the file holds {frames})",
                            SKIP_FIX)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise BadRecord(where, "audio holds NaN or inf samples", SKIP_FIX)
    return np.ascontiguousarray(mono, dtype=np.float32), rate
