"""The speech stream (``core_speech.stream``) behind ``core prepare --plugin speech``: shards give the
clips, labels, splits and model inputs the in-memory reader gives."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from core.errors import UserError
from core.prepare import prepare
from core.runs import open_prepared as opened
from core.testing import TINY_RUN_ARGS as TINY, assert_prepared_runs
from core.testing import isolated_plugin_manager, paired_splits
from core_speech import plugin, synthetic
from core_speech.batches import collate
from core_speech.datasets import load_files

pytest.importorskip("litdata")

OPTIONS = {"sample_rate": "8000", "max_seconds": "1.0"}  # small features: fast
READER = ["--sample-rate", "8000", "--max-seconds", "1.0"]


@pytest.fixture
def pm():
    return isolated_plugin_manager(("speech", plugin))


def same(shards, memory, splits=("train", "val", "test", "pretrain")):
    """Ids, targets, collated batches (features, frames, waveforms), raw floor and metadata agree."""
    for name, a, b in paired_splits(shards, memory, splits):
        if b.targets is not None:
            assert np.array_equal(a.targets, b.targets), name
        got, want = collate([a[i] for i in range(len(a))]), collate([b[i] for i in range(len(b))])
        assert np.array_equal(got[0].frames, want[0].frames) and np.array_equal(got[0].samples, want[0].samples), name
        assert np.allclose(got[0].features, want[0].features, atol=1e-4), name  # float32 statistics, other order
        assert np.array_equal(got[0].wave, want[0].wave) and np.array_equal(got[1], want[1]), name
        assert np.allclose(a.raw_features(), b.raw_features(), atol=1e-4), name
        assert a.metadata() == b.metadata(), name


@pytest.mark.parametrize("layout", ["manifest", "folders"])
def test_labelled_corpus_gives_the_in_memory_splits_and_inputs(tmp_path, pm, layout):
    if layout == "manifest":  # speakers held out (split=auto), global normalisation on the pool
        raw, options = synthetic.manifest(tmp_path / "corpus", speakers=6, per=2), OPTIONS
    else:  # Speech Commands folders, per-clip normalisation, random split
        raw = synthetic.class_folders(tmp_path / "folders", speakers=4, per=2)
        options = {**OPTIONS, "normalise": "utterance", "split": "random"}
    meta = prepare(pm, plugin="speech", data=raw, out=tmp_path / "s", options=options, num_workers=2)
    assert set(meta["normalisation"]) >= {"all", "train", "pretrain"}
    shards, memory = opened(pm, tmp_path / "s"), load_files(str(raw), options=options)
    same(shards, memory)
    if layout == "manifest":  # whole speakers per split, as in memory
        speakers = [set(shards.splits[s].metadata()["speaker"]) for s in ("train", "val", "test")]
        assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])


def test_unlabelled_corpus_is_the_in_memory_pool(tmp_path, pm):
    folders = synthetic.class_folders(tmp_path / "folders", speakers=2, per=2)  # read without labels
    meta = prepare(pm, plugin="speech", data=folders, out=tmp_path / "s", options=OPTIONS, unlabelled=True)
    assert meta["task"] is None and meta["splits"] == {"pretrain": 12}
    shards = opened(pm, tmp_path / "s", unlabelled=True)
    same(shards, load_files(str(folders), options=OPTIONS, unlabelled=True), ("pretrain",))
    pool = collate([shards.splits["pretrain"][i] for i in range(12)])[0]  # standardised on every clip
    valid = np.concatenate([pool.features[i, :, :pool.frames[i]].numpy() for i in range(12)], axis=1)
    assert np.allclose(valid.mean(axis=1), 0, atol=1e-3) and np.allclose(valid.std(axis=1), 1, atol=1e-2)


def test_bad_clip_stops_or_is_listed_and_clips_without_labels_are_listed(tmp_path, pm):
    manifest = synthetic.manifest(tmp_path / "corpus", speakers=6, per=2)
    whole = (manifest.parent / "audio" / "s3_up_0.wav").read_bytes()
    (manifest.parent / "audio" / "cut.wav").write_bytes(whole[: len(whole) // 3])
    shutil.copy(manifest.parent / "audio" / "s3_up_1.flac", manifest.parent / "audio" / "extra.flac")
    with open(manifest, "a", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([("audio/cut.wav", "up", "speaker3"),
                                                      ("audio/extra.flac", "", "speaker3")])
    with pytest.raises(UserError, match=r"cut\.wav.*truncated WAV.*--on-bad-record skip"):
        prepare(pm, plugin="speech", data=manifest, out=tmp_path / "failed", options=OPTIONS)
    meta = prepare(pm, plugin="speech", data=manifest, out=tmp_path / "s", options=OPTIONS, on_bad_record="skip")
    reasons = {where.split(" (")[0].rsplit("/", 1)[-1]: why for where, why in meta["skipped"]}
    assert "truncated WAV" in reasons["cut.wav"] and "no label" in reasons["extra.flac"]
    assert meta["num_samples"] == 48 and "audio/cut.wav" not in opened(pm, tmp_path / "s").splits["pretrain"].ids
    with pytest.raises(UserError, match="prepare it with --unlabelled"):
        plain = tmp_path / "plain"
        shutil.copytree(manifest.parent / "audio", plain)
        prepare(pm, plugin="speech", data=plain, out=tmp_path / "p", options=OPTIONS)


def test_cli_prepare_then_pretrain_on_shards_and_run_on_labelled_shards(cli, tmp_path):
    labelled = synthetic.class_folders(tmp_path / "labelled", speakers=4, per=2)  # 24 clips
    unlabelled = tmp_path / "unlabelled"
    rng = np.random.default_rng(2)
    for i in range(12):
        synthetic.write_clip(unlabelled / f"clip{i}.wav", i % 3, i % 4, rng)
    _, metrics = assert_prepared_runs("speech", unlabelled, labelled, tmp_path, unlabelled_size=12, cli=cli,
                                      prepare_args=READER, run_args=TINY,
                                      labelled_run_args=["--projector", "speech/wave_conv"])  # reads the stored waves
    assert sum(metrics["dataset"]["sizes"][s] for s in ("train", "val", "test")) == 24
