"""Unlabelled corpora for `--pretrain-data`: audio folders and manifests without labels, one pool."""
from __future__ import annotations

import csv
import shutil

import numpy as np

from core_speech import synthetic
from core_speech.datasets import load_files

OPTIONS = {"max_seconds": "1.0", "sample_rate": "8000"}


def check_pool(corpus, n, spec):
    pool = corpus.splits["pretrain"]
    assert corpus.task is None and pool.targets is None and len(pool) == n
    assert [len(corpus.splits[s]) for s in ("train", "val", "test")] == [0, 0, 0]
    assert pool[0][1].item() == -1 and pool[0][2] == 0
    assert corpus.input_spec == spec


def test_audio_folders_and_manifests_without_labels(tmp_path):
    folders = synthetic.class_folders(tmp_path / "folders", speakers=2, per=2)  # 3 classes x 2 x 2 = 12 clips
    labelled = load_files(str(folders), options={**OPTIONS, "split": "random"})
    assert labelled.input_spec.shape[1] == 101  # fixed by max_seconds, not by the clips
    plain = tmp_path / "plain"
    (plain / "day1").mkdir(parents=True)
    clips = sorted(folders.rglob("*.wav")) + sorted(folders.rglob("*.flac"))
    for i, clip in enumerate(clips):  # no class folders: some at the top, some in a sub-folder
        shutil.copy(clip, (plain / "day1" if i % 2 else plain) / f"c{i}{clip.suffix}")
    (plain / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    corpus = load_files(str(plain), on_bad_record="skip", unlabelled=True,
                        options={**OPTIONS, "task": "speaker", "split": "column"})  # label options ignored
    check_pool(corpus, 12, labelled.input_spec)
    assert [where for where, _ in corpus.skipped] == [str(plain / "broken.wav")]
    # class folders read without labels: every clip pooled
    check_pool(load_files(str(folders), unlabelled=True, options=OPTIONS), 12, labelled.input_spec)
    # a manifest with only a path column
    manifest = plain / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        csv.writer(f).writerows([("path",)] + [(p.relative_to(plain).as_posix(),) for p in sorted(plain.rglob("c*"))])
    listed = load_files(str(manifest), unlabelled=True, options=OPTIONS)
    check_pool(listed, 12, labelled.input_spec)
    # normalisation statistics come from the corpus itself: the pooled features are standardised
    features = listed.splits["pretrain"].store.features  # (F, all frames), normalised with the pool's statistics
    assert np.allclose(features.mean(axis=1), 0, atol=1e-3) and np.allclose(features.std(axis=1), 1, atol=1e-2)


def test_a_batch_mixing_two_corpora_reads_each_clip_from_its_own_store(tmp_path):
    from core.data import join_pools
    from core_speech.batches import collate

    a = synthetic.class_folders(tmp_path / "a", speakers=2, per=1)
    b = synthetic.class_folders(tmp_path / "b", speakers=2, per=2, seed=1)
    first = load_files(str(a), unlabelled=True, options=OPTIONS).splits["pretrain"]
    second = load_files(str(b), unlabelled=True, options=OPTIONS).splits["pretrain"]
    pool = join_pools([first, second])
    n = len(first)
    picks = [0, n + 1, len(pool) - 1, 2]
    batch = collate([pool[i] for i in picks])[0]
    for row, i in enumerate(picks):
        part, j = (first, i) if i < n else (second, i - n)
        alone = collate([part[j]])[0]
        frames, samples = int(alone.frames[0]), int(alone.samples[0])
        assert int(batch.frames[row]) == frames and int(batch.samples[row]) == samples
        assert np.array_equal(batch.features[row, :, :frames].numpy(), alone.features[0, :, :frames].numpy())
        assert np.array_equal(batch.wave[row, :samples].numpy(), alone.wave[0, :samples].numpy())
