"""The entry module is light; the split policy keeps speakers whole and a corpus' own column."""
import numpy as np
import pytest

from core.errors import UserError
from core.testing import assert_entry_module_light
from core_speech import splits


def test_entry_module_is_light():
    assert_entry_module_light("core_speech.plugin", heavy=("torch", "torchaudio", "soundfile", "numpy", "sklearn"))


def test_speaker_split_holds_out_whole_speakers():
    speakers = [f"spk{i % 10}" for i in range(100)]
    parts = splits.speaker_split(speakers, 0.2, 0.2, seed=1)
    owner = {}
    for name, idx in parts.items():
        assert len(idx)
        for s in {speakers[i] for i in idx}:
            assert owner.setdefault(s, name) == name
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(100))
    with pytest.raises(UserError, match="--split random"):
        splits.speaker_split(["a", "b", "a"], 0.2, 0.2, seed=0)


def test_column_split_keeps_the_column_and_carves_what_is_missing():
    given = ["test" if i % 5 == 0 else ("train" if i % 7 else None) for i in range(60)]
    speakers = [f"spk{i % 6}" for i in range(60)]
    y = np.arange(60) % 3
    for by_speaker in (False, True):
        parts = splits.column_split(given, y, speakers, 0.2, 0.2, seed=0, by_speaker=by_speaker)
        assert parts["test"].tolist() == [i for i in range(60) if i % 5 == 0]  # kept as given
        assert len(parts["val"]) and not set(parts["val"]) & set(parts["test"])
        assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(60))
        if by_speaker:
            val_speakers = {speakers[i] for i in parts["val"]}
            assert not val_speakers & {speakers[i] for i in parts["train"]}
