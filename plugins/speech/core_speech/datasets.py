"""Dataset factories: the embedded espeak-ng digits and ``speech/files`` for ``--data``.

Pipeline (:func:`build`): list the clips of the corpus (:mod:`core_speech.readers`), read each
(:func:`core_speech.audio.load_clip`: soundfile, mono, torchaudio resampling, centre crop; a bad
file raises a :class:`BadRecord` naming it, or is skipped and listed), compute the front end
(:class:`core_speech.frontend.FrontEnd`), choose labels for the task, split (:mod:`core_speech.splits`:
held-out speakers, stratified random or the corpus' column), normalise with statistics of the pretrain pool
only, and return the splits with ``pretrain`` = train + val (+ unlabelled clips) without labels.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.data import offsets, unlabelled_corpus
from core.errors import BadRecord, BadRecords, UserError
from core.specs import InputSpec, LoadedDataset, Task
from core.splits import SPLITS
from core_speech import frontend, readers, splits
from core_speech.audio import Resampler, load_clip
from core_speech.batches import SpeechSplit, SpeechStore
from core_speech.options import EMBEDDED, Options, parse_options

log = logging.getLogger("core.speech")
DIGITS_DIR = Path(__file__).parent / "data" / "digits"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class Problems(BadRecords):
    """Bad clips: the reader's error is raised as it is, or kept with the clip's id, path and input index."""

    def clip(self, err: BadRecord, entry: readers.Entry, index: int) -> None:
        bad_clip(self, err, entry, index)

    def files_not_read(self, corpus: readers.Corpus, root, index: int) -> int:
        """List the files of ``corpus``' folder that are not read (:meth:`BadRecords.not_read`);
        ``index`` is the first free input index. Returns the next one."""
        for path, reason in corpus.not_read:
            self.not_read(path, reason, id=str(Path(path).relative_to(root)) if Path(root).is_dir() else str(path),
                          path=str(path), input_index=index)
            index += 1
        if corpus.not_read:
            log.warning("%s: %d file(s) not read (e.g. %s: %s); listed in skipped.csv", root, len(corpus.not_read),
                        corpus.not_read[0][0], corpus.not_read[0][1])
        return index


def bad_clip(problems: BadRecords, err: BadRecord, entry: readers.Entry, index: int) -> None:
    """A clip that cannot be read: ``err`` raised as it is (``error``), or kept with the clip's id,
    path and input index (``skip``)."""
    if problems.mode == "error":
        raise err
    problems.bad(entry.where, err.reason, id=entry.id, path=str(entry.path), input_index=index)


def read_clip(entry: readers.Entry, resample: Resampler, fe: frontend.FrontEnd, opts: Options) -> tuple:
    """``(wave (L,), features (F, T))`` of one clip, features before normalisation; a
    :class:`BadRecord` naming it when it cannot be read."""
    if not entry.path.is_file():
        raise BadRecord(entry.where, "no such file", "fix the path in the manifest, or pass --on-bad-record "
                                                     "skip to leave it out")
    wave = load_clip(entry.path, entry.where, resample, opts.max_seconds, opts.win_length)
    return wave, fe(wave)


def class_order(labels) -> tuple:
    """Class names in a natural order: digit words by value, numbers numerically, else sorted."""
    names = set(labels)
    if names <= set(DIGIT_WORDS):
        return tuple(w for w in DIGIT_WORDS if w in names)

    def key(s):
        try:
            return (0, float(s), s)
        except ValueError:
            return (1, 0.0, s)

    return tuple(sorted(names, key=key))


def _read_clips(entries, opts: Options, problems: Problems, offset: int = 0):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny STFTs: threading only costs (10x slower on a busy machine)
    try:
        return _read_each(entries, opts, problems, offset)
    finally:
        torch.set_num_threads(threads)


def _read_each(entries, opts: Options, problems: Problems, offset: int):
    resample, fe = Resampler(opts.sample_rate), frontend.FrontEnd(opts)
    kept, waves, feats = [], [], []
    for i, entry in enumerate(entries):
        try:
            wave, feat = read_clip(entry, resample, fe, opts)
        except BadRecord as err:
            problems.clip(err, entry, offset + i)
            continue
        kept.append((offset + i, entry))
        waves.append(wave)
        feats.append(feat)
    return kept, waves, feats


def build(root, opts: Options, problems: Problems, name: str, source: str = "",
          unlabelled: bool = False) -> LoadedDataset:
    """Read the corpus at ``root`` with ``opts``; see the module docstring. ``unlabelled``: every
    clip goes to one ``pretrain`` pool (:func:`core.data.unlabelled_corpus`), labels not read."""
    corpus = without_labels(root, opts) if unlabelled else readers.read_corpus(root, opts)
    kept, waves, feats = _read_clips(corpus.entries, opts, problems)
    extra_kept, extra_waves, extra_feats = [], [], []
    more = None
    if opts.unlabelled and not unlabelled:
        more = readers.read_corpus(opts.unlabelled, Options(**{**opts.__dict__, "layout": "auto", "path_col": None,
                                                               "label_col": None, "speaker_col": None}))
        extra_kept, extra_waves, extra_feats = _read_clips(
            [readers.Entry(e.path, e.where, f"unlabelled/{e.id}") for e in more.entries], opts, problems,
            offset=len(corpus.entries))
    index = problems.files_not_read(corpus, root, len(corpus.entries) + (len(more.entries) if more else 0))
    if more is not None:
        problems.files_not_read(more, opts.unlabelled, index)
    if not kept:
        first = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{root}: no readable clips{first}")
    entries = [e for _, e in kept]

    # labels for the task; labelled clips are split, the others only join the pretrain pool
    texts = [None] * len(entries) if unlabelled else label_texts(corpus, entries, opts, root)
    labelled = np.array([t is not None for t in texts])
    class_names = class_order([t for t in texts if t is not None]) if labelled.any() else ()
    lookup = {c: i for i, c in enumerate(class_names)}
    y = np.array([lookup[t] if t is not None else -1 for t in texts], dtype=np.int64)

    index = assign(entries, labelled, y, corpus, opts, root)
    unlab = np.flatnonzero(~labelled)
    n_main = len(entries)
    store_ids = [e.id for e in entries] + [e.id for _, e in extra_kept]
    all_waves, all_feats = waves + extra_waves, feats + extra_feats
    targets = np.concatenate([y, np.full(len(extra_kept), -1, np.int64)])
    pretrain = np.sort(np.concatenate([index["train"], index["val"], unlab, n_main + np.arange(len(extra_kept))]))
    if not labelled.any():  # unlabelled corpus: every clip in train (core embed), no labels
        pretrain = np.arange(len(store_ids))

    frame_ptr = offsets([f.shape[1] for f in all_feats])
    flat = np.concatenate(all_feats, axis=1)
    stats = None
    if opts.normalise == "global":
        pool_frames = np.concatenate([np.arange(frame_ptr[i], frame_ptr[i + 1]) for i in pretrain])
        stats = frontend.global_stats(flat[:, pool_frames])
    normed = frontend.normalise(flat, frame_ptr, opts.normalise, stats)
    per_clip = [normed[:, a:b] for a, b in zip(frame_ptr[:-1], frame_ptr[1:])]
    rows = [e for _, e in kept] + [e for _, e in extra_kept]
    extra = {"path": [str(e.path) for e in rows], "label": [e.label or "" for e in rows],
             "speaker": [e.speaker or "" for e in rows],
             "input_index": [i for i, _ in kept] + [i for i, _ in extra_kept]}
    raw = np.stack([f.mean(axis=1) for f in all_feats])  # the raw floor: mean-pooled, before normalisation
    store = SpeechStore.build(store_ids, all_waves, per_clip, raw, targets if labelled.any() else None, extra)

    parts = {s: SpeechSplit(store, index[s]) for s in SPLITS}
    if not labelled.any():
        parts = {"train": SpeechSplit(store, pretrain, labelled=False), "val": SpeechSplit(store, []),
                 "test": SpeechSplit(store, [])}
    parts["pretrain"] = SpeechSplit(store, pretrain, labelled=False)
    task = Task("binary" if len(class_names) == 2 else "multiclass", class_names or ("unlabelled",))
    spec = InputSpec("audio", (opts.n_features, opts.max_frames), sample_rate=float(opts.sample_rate),
                     channel_names=(opts.features,))
    what = f"task {opts.task}, {len(class_names)} classes" if labelled.any() else "unlabelled"
    detail = f"{source or corpus.source}; {what}; {opts.features} {opts.n_features} x <= {opts.max_frames} frames"
    log.info("read %s", detail)
    if unlabelled:
        return unlabelled_corpus(parts["pretrain"], spec, name=name, source=detail, skipped=problems.skipped,
                                 failed=problems.failed)
    return LoadedDataset(parts, spec, task, name=name, source=detail, skipped=list(problems.skipped),
                         failed=list(problems.failed))


def label_texts(corpus: readers.Corpus, entries, opts: Options, root) -> list:
    """Each clip's label for ``opts.task`` (its speaker for ``task=speaker``), None when it has none."""
    if opts.task == "speaker":
        if not corpus.has_speakers:
            raise UserError(f"{root}: task=speaker needs speakers (a speaker column in the manifest, or "
                            f"--speaker-regex for class folders)")
        return [e.speaker for e in entries]
    return [e.label for e in entries] if corpus.has_labels else [None] * len(entries)


def without_labels(root, opts: Options) -> readers.Corpus:
    """The clips at ``root`` for pretraining: class folders are read as a plain folder (every clip,
    recursively), a manifest by its path column; labels, speakers and splits are dropped."""
    root = Path(root)
    layout = readers.detect_layout(root, opts) if root.exists() else opts.layout
    if layout == "folders":
        corpus = readers.read_plain(root)
    else:
        corpus = readers.read_corpus(root, Options(**{**opts.__dict__, "layout": layout, "label_col": None,
                                                      "speaker_col": None}))
    entries = [readers.Entry(e.path, e.where, e.id) for e in corpus.entries]
    return readers.Corpus(entries, corpus.layout, f"{root} ({corpus.layout}, read without labels)", False, False,
                          corpus.not_read)


def assign(entries, labelled, y, corpus, opts: Options, root) -> dict:
    """Indices (into ``entries``) of train/val/test among the labelled clips."""
    rows = np.flatnonzero(labelled)
    if not len(rows):
        return {s: np.zeros(0, np.int64) for s in SPLITS}
    part = splits.assign([entries[i].split for i in rows], y[rows], [entries[i].speaker for i in rows],
                         corpus.has_speakers, opts, root)
    return {s: np.sort(rows[part[s]]) for s in SPLITS}


# -- factories -----------------------------------------------------------------------------------------
def load_files(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None,
               unlabelled: bool = False) -> LoadedDataset:
    """A user's clips at ``path``: class folders, a manifest, or a plain folder (see readers).

    ``unlabelled=True`` (``--pretrain-data``): a folder of clips (sub-folders or not) or a manifest
    with only a path column; labels, speakers, splits and their options are ignored."""
    if path is None:
        raise UserError("speech/files reads your own audio: pass --data PATH (class folders, a manifest "
                        "path,label[,speaker] or a folder of .wav/.flac/.ogg)")
    opts = parse_options(options)
    return build(path, opts, Problems(on_bad_record), "speech/files", unlabelled=unlabelled)


def load_digits(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """The embedded espeak-ng spoken digits (1600 clips, 80 voices): ``task=label`` (default)
    holds out 16 voices for test and 12 for val (the manifest's ``split`` column); ``task=speaker``
    splits each voice's clips (stratified, fixed)."""
    if path is not None:
        raise UserError(f"speech/digits is embedded and takes no --data ({path}); read your own audio with "
                        f"--dataset speech/files --data PATH")
    opts = parse_options(options, allowed=EMBEDDED, dataset="speech/digits")
    fixed = {"layout": "manifest", "path_col": "path", "label_col": "label", "speaker_col": "speaker",
             "split": "column" if opts.task == "label" else "random", "split_seed": 0}
    opts = Options(**{**opts.__dict__, **fixed})
    return build(DIGITS_DIR / "manifest.csv", opts, Problems(on_bad_record), "speech/digits",
                 source="espeak-ng 1.51 spoken digits (embedded, rendered by scripts/render_digits.py)")
