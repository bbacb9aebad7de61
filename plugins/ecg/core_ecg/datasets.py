"""Dataset factories: the embedded ECG5000 default and ``ecg/records`` for ``--data PATH``."""
from __future__ import annotations

from pathlib import Path

from core.data import ArrayDataset, concat, unlabelled_corpus
from core.errors import UserError
from core.splits import SPLITS
from core.specs import InputSpec, LoadedDataset
from core_ecg import labels, preprocess, ucr
from core_ecg.options import Options, parse_options
from core_ecg.readers import read_corpus
from core_ecg.records import Corpus, Problems
from core_ecg.splits import assign_splits

DATA_DIR = Path(__file__).parent / "data"
ECG5000_CLASSES = ("normal", "R-on-T PVC", "PVC", "SP or EB", "unclassified")


def load_ecg5000(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None) -> LoadedDataset:
    """UCR ECG5000 (embedded): official TRAIN split into train/val (stratified, seeded),
    official TEST held out; 140-sample beats, 5 classes."""
    if path is not None:
        raise UserError(f"ecg/ecg5000 is embedded and takes no --data ({path}); "
                        f"read your own files with --dataset ecg/records --data PATH")
    opts = parse_options(options, allowed=("val_fraction", "length"), dataset="ecg/ecg5000")
    problems = Problems(on_bad_record)
    files = {"train": DATA_DIR / "ECG5000_TRAIN.tsv.gz", "test": DATA_DIR / "ECG5000_TEST.tsv.gz"}
    corpus = ucr.read_ucr(files, problems, "UCR ECG5000 (embedded)")
    for r in corpus.records:
        r.label = ECG5000_CLASSES[int(r.label) - 1]
        r.channels = ("ECG",)
    corpus.classes = ECG5000_CLASSES
    return build(corpus, opts, problems, seed, "ecg/ecg5000")


def load_records(path=None, *, seed: int = 0, on_bad_record: str = "error", options=None,
                 unlabelled: bool = False) -> LoadedDataset:
    """A user's labelled corpus at ``path`` (WFDB, PTB-XL, UCR, .npz/.npy; see readers);
    ``unlabelled=True``: the same formats without labels (WFDB without labels.csv, ``x.npy``
    alone), every record in the pretrain pool (``--pretrain-data``)."""
    if path is None:
        raise UserError("ecg/records reads your own files: pass --data PATH (a WFDB folder with labels.csv, "
                        "a PTB-XL folder, UCR .tsv/.ts files or a .npz)")
    opts = parse_options(options)
    problems = Problems(on_bad_record)
    corpus = read_corpus(path, opts, problems, labelled=not unlabelled)
    if unlabelled:
        return build_unlabelled(corpus, opts, problems, "ecg/records")
    return build(corpus, opts, problems, seed, "ecg/records")


def build_unlabelled(corpus: Corpus, opts: Options, problems: Problems, name: str) -> LoadedDataset:
    """Leads, rate, length and standardisation fitted on the whole corpus -> an unlabelled pool."""
    records, leads = preprocess.select_leads(corpus.records, opts.leads, problems)
    if not records:
        why = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{corpus.source}: no usable records{why}")
    fs = preprocess.resample(records, opts.fs, opts.source_fs)
    length = preprocess.common_length(records, opts.length, corpus.source)
    mean, std = preprocess.fit_standardiser([r.signal[:, :length] for r in records], corpus.source)
    pool = ArrayDataset(preprocess.to_array(records, length, mean, std), None, [r.id for r in records])
    spec = InputSpec("sequence", (len(mean), length), sample_rate=fs, channel_names=leads)
    return unlabelled_corpus(pool, spec, name=name, source=corpus.source, skipped=problems.skipped,
                             failed=problems.failed)


def build(corpus: Corpus, opts: Options, problems: Problems, seed: int, name: str) -> LoadedDataset:
    """Leads, labels, rate, splits, length and train-fitted standardisation -> LoadedDataset."""
    records, leads = preprocess.select_leads(corpus.records, opts.leads, problems)
    kind = labels.infer_kind([r.label for r in records], corpus.multilabel, opts.task)
    records, y, task = labels.encode(records, kind, corpus.classes, problems)
    if not records:
        why = f"; first problem: {problems.skipped[0][0]}: {problems.skipped[0][1]}" if problems.skipped else ""
        raise UserError(f"{corpus.source}: no usable records{why}")
    fs = preprocess.resample(records, opts.fs, opts.source_fs)
    index = assign_splits(records, y, task.kind, opts, seed, corpus.source, carve_small_val=name == "ecg/ecg5000")
    length = preprocess.common_length(records, opts.length, corpus.source)
    mean, std = preprocess.fit_standardiser([records[i].signal[:, :length] for i in index["train"]], corpus.source)
    full = ArrayDataset(preprocess.to_array(records, length, mean, std), y, [r.id for r in records])
    splits = {s: full.subset(index[s]) for s in SPLITS}
    splits["pretrain"] = concat([splits["train"], splits["val"]], labelled=False)
    spec = InputSpec("sequence", (len(mean), length), sample_rate=fs, channel_names=leads)
    return LoadedDataset(splits, spec, task, name=name, source=corpus.source, skipped=list(problems.skipped),
                         failed=list(problems.failed))

