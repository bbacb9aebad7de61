"""Speech corpora read clip by clip for ``core prepare`` (``DatasetSpec.stream`` of ``speech/files``),
and read back from the shards (``DatasetSpec.shard_split``).

Streams what the in-memory reader reads (class folders, manifests, plain folders of
.wav/.flac/.ogg; :mod:`core_speech.readers`) with its per-clip steps
(:func:`core_speech.datasets.read_clip`: soundfile, mono, torchaudio resampling, centre crop,
the log-mel / MFCC front end) and its bad-record messages. Each stored record is a dict: the
front end's features **before normalisation** ``x (F, T)`` float32, the waveform ``wave (L,)``
float32 (the ``speech/wave_conv`` projector reads it), and ``info``, the ``core embed`` columns
``path``, ``label``, ``speaker``, ``input_index`` as JSON text (litdata stores a string that names
an existing file as that file's contents, so paths never go in as plain strings); training
never decodes audio nor recomputes features.
Features are normalised on read: ``global`` with per-bin statistics ``core prepare`` fits in its
single pass (those of the labelled pretrain pool, train + val, as in memory; of every clip for
an unlabelled corpus or a pool of every record), ``utterance`` per clip, ``none`` as stored.

What differs from the in-memory reader, because a stream cannot hold the corpus:

* class names come from every listed clip's label, before any clip is decoded (in memory: from
  the readable clips; they differ only when every clip of a class is bad);
* labelled shards keep labelled clips only: a clip without a label in a labelled corpus (in
  memory: pretrain pool only) is listed as not read, and ``--option unlabelled=PATH`` is
  refused (prepare those clips on their own with ``--unlabelled``, pass them as ``--pretrain-data``);
* a corpus without any label is refused unless prepared with ``--unlabelled``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import numpy as np

from core.errors import BadRecord, UserError
from core.shards import CorpusStream, StoredSplit
from core.specs import InputSpec, Task
from core_speech import datasets, readers
from core_speech.options import Options, parse_options

CLIPS_PER_UNIT = 32
NORMALISE_EPS = 1e-5  # added to the per-bin std of ``global`` normalisation (frontend.global_stats)


@dataclass(frozen=True)
class Plan:
    """What a worker needs to turn a listed clip into a stored record (picklable)."""

    opts: Options
    labelled: bool


def stream_files(path, *, on_bad_record: str = "error", options=None, unlabelled: bool = False) -> CorpusStream:
    """The :class:`core.shards.CorpusStream` of the clips at ``path`` (module docstring)."""
    opts = parse_options(options)
    root = Path(path).expanduser()
    problems = datasets.Problems(on_bad_record)
    if unlabelled:
        corpus = datasets.without_labels(root, opts)
    else:
        if opts.unlabelled:
            raise UserError(f"option unlabelled={opts.unlabelled}: core prepare writes one corpus; prepare those "
                            f"clips on their own with --unlabelled and pass them as --pretrain-data")
        corpus = readers.read_corpus(root, opts)
    problems.files_not_read(corpus, root, len(corpus.entries))
    spec = InputSpec("audio", (opts.n_features, opts.max_frames), sample_rate=float(opts.sample_rate),
                     channel_names=(opts.features,))
    listed = list(enumerate(corpus.entries))  # (input index, entry)
    if unlabelled:
        units = [[(i, e, None) for i, e in listed[k:k + CLIPS_PER_UNIT]] for k in range(0, len(listed), CLIPS_PER_UNIT)]
        return CorpusStream(spec, None, units, partial(read_unit, Plan(opts, False)), None, list(problems.skipped),
                            True, corpus.source)
    texts = datasets.label_texts(corpus, corpus.entries, opts, root)
    if all(t is None for t in texts):
        raise UserError(f"{root}: no labels for task={opts.task} ({corpus.source}); prepare it with --unlabelled "
                        f"to pretrain on it")
    for (i, entry), text in zip(listed, texts):
        if text is None:
            problems.not_read(entry.where, "no label; labelled shards keep labelled clips only (prepare unlabelled "
                                           "clips with --unlabelled and pass them as --pretrain-data)",
                              id=entry.id, path=str(entry.path), input_index=i)
    class_names = datasets.class_order([t for t in texts if t is not None])
    task = Task("binary" if len(class_names) == 2 else "multiclass", class_names)
    lookup = {c: k for k, c in enumerate(class_names)}
    kept = [(i, e, lookup[t]) for (i, e), t in zip(listed, texts) if t is not None]
    units = [kept[k:k + CLIPS_PER_UNIT] for k in range(0, len(kept), CLIPS_PER_UNIT)]
    speakers = {e.id: e.speaker for _, e, _ in kept}
    carve = partial(_carve, opts, str(root), speakers, corpus.has_speakers)
    return CorpusStream(spec, task, units, partial(read_unit, Plan(opts, True)), carve, list(problems.skipped),
                        True, corpus.source)


def _carve(opts: Options, root: str, speakers: dict, has_speakers: bool, ids, y, given, seed: int) -> dict:
    """The speech split policy (:func:`core_speech.datasets.assign`) over the stored clips."""
    entries = [SimpleNamespace(split=g, speaker=speakers[i]) for i, g in zip(ids, given)]
    y = np.asarray(y, np.int64)
    return datasets.assign(entries, np.ones(len(entries), bool), y, SimpleNamespace(has_speakers=has_speakers),
                           opts, root)


@lru_cache(maxsize=4)
def _tools(opts: Options) -> tuple:
    """One resampler (its kernels cached per source rate) and front end per worker and options."""
    from core_speech.audio import Resampler
    from core_speech.frontend import FrontEnd

    return Resampler(opts.sample_rate), FrontEnd(opts)


def read_unit(plan: Plan, unit: list, problems):
    """Yield ``(id, record, y, split)`` for each readable clip of ``unit`` (module docstring)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many tiny STFTs: threads only cost (see datasets._read_clips)
    try:
        resample, fe = _tools(plan.opts)
        for index, entry, y in unit:
            try:
                wave, feats = datasets.read_clip(entry, resample, fe, plan.opts)
            except BadRecord as err:
                datasets.bad_clip(problems, err, entry, index)
                continue
            info = {"path": str(entry.path), "label": entry.label or "", "speaker": entry.speaker or "",
                    "input_index": int(index)}
            record = {"x": np.ascontiguousarray(feats, np.float32), "wave": np.ascontiguousarray(wave, np.float32),
                      "info": json.dumps(info)}
            yield entry.id, record, y, entry.split if plan.labelled else None
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- reading back
def shard_split(records, positions, ids, targets, input_spec, meta) -> "SpeechShardSplit":
    """The ``DatasetSpec.shard_split`` of ``speech/files``: a :class:`SpeechShardSplit`, its clips in
    input order (as in memory, where the pretrain pool is train + val sorted)."""
    opts = parse_options(meta["args"]["options"])
    stats = None
    if opts.normalise == "global":
        norm = meta["normalisation"]
        whole = meta["task"] is None or len(positions) == meta["num_samples"]
        fitted = norm["all"] if whole else norm.get("pretrain", norm["train"])
        stats = (np.asarray(fitted["mean"], np.float32), np.asarray(fitted["std"], np.float32) + NORMALISE_EPS)
    return SpeechShardSplit(records, positions, ids, targets, opts.normalise, stats)


class SpeechShardSplit(StoredSplit):
    """Clips of a shards folder as a host split, like :class:`core_speech.batches.SpeechSplit`:
    items ``(StoredClip, y, index)`` collated by :func:`core_speech.batches.collate`, ``ids``,
    ``targets``, ``raw_features()``, ``metadata()``; clips in input order."""

    def __init__(self, records, positions, ids, targets: Optional[np.ndarray], normalise: str,
                 stats: Optional[tuple]):
        from core_speech.batches import collate

        super().__init__(records, positions, ids, targets, in_order=True)
        self.normalise, self.stats = normalise, stats
        self.collate_fn = collate

    def input(self, rec: dict, i: int):
        from core_speech.batches import StoredClip
        from core_speech.frontend import normalise

        feats = np.asarray(rec["x"], np.float32)
        feats = normalise(feats, np.array([0, feats.shape[1]]), self.normalise, self.stats)
        return StoredClip(feats, np.asarray(rec["wave"], np.float32))

    def raw_features(self) -> np.ndarray:
        """Each clip's features averaged over its frames, before normalisation, ``(N, F)``."""
        rows = [np.asarray(self.record(i)["x"], np.float32).mean(axis=1) for i in range(len(self))]
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)

    def metadata(self) -> dict:
        """Per-clip columns for ``core embed`` (path, label, speaker, input_index)."""
        columns = {"path": [], "label": [], "speaker": [], "input_index": []}
        for i in range(len(self)):
            info = json.loads(self.record(i)["info"])
            for key, values in columns.items():
                values.append(info[key])
        return columns
