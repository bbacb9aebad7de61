"""Corpus layouts, splits, normalisation and bad-record handling of speech/files and speech/digits."""
import csv

import numpy as np
import pytest
import soundfile as sf

from core.errors import BadRecord, UserError
from core_speech.datasets import load_digits, load_files


def _speakers(ds):
    return set(ds.store.extra["speaker"][r] for r in ds.rows)


def test_class_folders_mixed_rates_and_lengths(folders):
    data = load_files(str(folders), seed=0, options={"sample_rate": 8000, "max_seconds": 1.0})
    assert data.task.class_names == ("high", "low", "mid") and data.task.kind == "multiclass"
    assert data.input_spec.shape == (40, 8000 // 80 + 1) and data.input_spec.sample_rate == 8000
    sizes = {s: len(d) for s, d in data.splits.items()}
    assert sizes["train"] + sizes["val"] + sizes["test"] == 54 and sizes["pretrain"] == sizes["train"] + sizes["val"]
    # speakers parsed from <speaker>_nohash_<n> are held out: no speaker in two splits
    sp = {s: _speakers(data.splits[s]) for s in ("train", "val", "test")}
    assert sp["test"] and not (sp["train"] & sp["test"]) and not (sp["val"] & sp["test"]) and not (sp["train"] & sp["val"])
    batch, y, index = data.splits["train"].collate_fn([data.splits["train"][i] for i in range(6)])
    assert batch.wave.shape[1] == int(batch.samples.max()) <= 8000  # cropped to 1 s at 8 kHz
    assert batch.features.shape[1:] == (40, int(batch.frames.max()))
    assert (batch.frames == batch.samples // 80 + 1).all()
    assert data.splits["test"].raw_features().shape == (len(data.splits["test"]), 40)


def test_manifest_with_speakers_mfcc_and_speaker_task(manifest):
    data = load_files(str(manifest), seed=0, options={"features": "mfcc", "n_mfcc": 13})
    assert data.task.class_names == ("down", "no", "up", "yes") and data.input_spec.shape[0] == 13
    sp = {s: _speakers(data.splits[s]) for s in ("train", "val", "test")}
    assert not (sp["train"] & sp["test"]) and len(sp["test"]) >= 1
    spk = load_files(str(manifest.parent), seed=0, options={"task": "speaker"})  # folder holding manifest.csv
    assert len(spk.task.class_names) == 8
    with pytest.raises(UserError, match="cannot hold out speakers"):
        load_files(str(manifest), options={"task": "speaker", "split": "speaker"})


def test_global_normalisation_uses_the_pretrain_pool_only(manifest):
    data = load_files(str(manifest), seed=0)
    store, pool = data.splits["train"].store, data.splits["pretrain"]
    frames = np.concatenate([np.arange(store.frame_ptr[r], store.frame_ptr[r + 1]) for r in pool.rows])
    assert np.allclose(store.features[:, frames].mean(1), 0, atol=1e-4)
    assert np.allclose(store.features[:, frames].std(1), 1, atol=1e-3)
    # changing a test clip leaves every pretrain feature unchanged
    test_path = store.extra["path"][data.splits["test"].rows[0]]
    sf.write(test_path, np.random.default_rng(1).normal(size=12000).astype(np.float32) * 0.5, 16000)
    again = load_files(str(manifest), seed=0).splits["train"].store

    def clip(st, r):
        return st.features[:, st.frame_ptr[r]: st.frame_ptr[r + 1]]

    assert all(np.array_equal(clip(again, r), clip(store, r)) for r in pool.rows)
    assert not np.array_equal(clip(again, data.splits["test"].rows[0]), clip(store, data.splits["test"].rows[0]))
    utt = load_files(str(manifest), seed=0, options={"normalise": "utterance"}).splits["train"].store
    a, b = utt.frame_ptr[0], utt.frame_ptr[1]
    assert np.allclose(utt.features[:, a:b].mean(1), 0, atol=1e-4)


def test_bad_files_error_or_skip(manifest):
    (manifest.parent / "audio" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    with open(manifest, "a", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([("audio/broken.wav", "yes", "speaker0"),
                                                      ("audio/missing.flac", "no", "speaker1")])
    with pytest.raises(BadRecord, match="broken.wav"):
        load_files(str(manifest))
    data = load_files(str(manifest), on_bad_record="skip")
    assert [r.split(" ")[0].rsplit("/", 1)[-1] for r, _ in data.skipped] == ["broken.wav", "missing.flac"]
    assert {f["id"] for f in data.failed} == {"audio/broken.wav", "audio/missing.flac"}
    assert sum(len(data.splits[s]) for s in ("train", "val", "test")) == 64


def test_plain_folder_is_unlabelled_and_joins_pretraining(tmp_path, folders, manifest):
    plain = tmp_path / "plain"
    for i, p in enumerate(sorted(folders.rglob("*.wav"))[:5]):
        (plain / f"sub{i % 2}").mkdir(parents=True, exist_ok=True)
        (plain / f"sub{i % 2}" / p.name).write_bytes(p.read_bytes())
    data = load_files(str(plain), options={"layout": "plain"})
    assert data.splits["train"].targets is None and len(data.splits["train"]) == 5 and len(data.splits["test"]) == 0
    base = load_files(str(manifest))
    more = load_files(str(manifest), options={"unlabelled": str(plain)})
    assert len(more.splits["pretrain"]) == len(base.splits["pretrain"]) + 5
    assert len(more.splits["test"]) == len(base.splits["test"])


def test_user_errors_name_the_problem(tmp_path, manifest):
    with pytest.raises(UserError, match="pass --data"):
        load_files(None)
    with pytest.raises(UserError, match="no option 'colour'"):
        load_files(str(manifest), options={"colour": "red"})
    with pytest.raises(UserError, match="no label column 'word'"):
        load_files(str(manifest), options={"label_col": "word"})
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="found no audio"):
        load_files(str(tmp_path / "empty"))
    with pytest.raises(UserError, match="takes no --data"):
        load_digits(str(manifest))


def test_embedded_digits_hold_out_voices():
    data = load_digits(None, seed=3)
    assert data.task.class_names[:3] == ("zero", "one", "two") and data.input_spec.sample_rate == 16000
    sp = {s: _speakers(data.splits[s]) for s in ("train", "val", "test")}
    assert len(sp["test"]) >= 10 and len(sp["val"]) >= 8
    assert not (sp["train"] & sp["test"]) and not (sp["val"] & sp["test"]) and not (sp["train"] & sp["val"])
    assert data.splits["test"].ids == load_digits(None, seed=4).splits["test"].ids  # fixed split
    assert np.bincount(data.splits["test"].targets).min() == np.bincount(data.splits["test"].targets).max()
