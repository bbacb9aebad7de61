"""Fuzzing every speech reader (issue 15, item 7): a damaged file in place of a valid one makes
``speech/files`` return a dataset or raise one-line :class:`core.errors.UserError`, never
anything else, within a time bound; under ``--on-bad-record error`` and ``skip``.

Short profile (25 examples per property) in ``make test``; ``make fuzz`` runs 500.
"""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.testing import assert_fails_cleanly, damaged_bytes, fuzz_examples, junk_text
from core_speech import synthetic
from core_speech.datasets import load_files

pytestmark = pytest.mark.fuzz
FUZZ = settings(max_examples=fuzz_examples(), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 20.0
RATE = 16000  # the default target rate: no resampling of the valid clips
FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


def write_clip(path, label: int, speaker: int, seconds: float = 0.3):
    """A short mono clip (harmonic tone) in the format of ``path``'s suffix."""
    rng = np.random.default_rng(100 * label + speaker)
    audio = synthetic.tone(label, speaker, seconds, RATE, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, RATE, format=FORMATS[path.suffix][0], subtype=FORMATS[path.suffix][1])
    return path


def class_folders(root, suffix: str):
    """2 classes x 4 speakers x 1 clip (``<speaker>_nohash_0``): held-out-speaker splits."""
    for c, name in enumerate(("low", "high")):
        for s in range(4):
            write_clip(root / name / f"spk{s}_nohash_0{suffix}", c, s)
    return root


def _load_both_ways(path, what: str) -> None:
    for mode in ("error", "skip"):
        assert_fails_cleanly(lambda: load_files(str(path), seed=0, on_bad_record=mode), seconds=SECONDS,
                             what=f"{what} (on_bad_record={mode})")


def damaged_header(valid: bytes, head: int = 64):
    """A few bytes overwritten in the first ``head`` bytes: sample rate, channels, sizes, ..."""
    def overwrite(args):
        where, junk = args
        return valid[:where] + junk + valid[where + len(junk):]

    return st.tuples(st.integers(0, head), st.binary(min_size=1, max_size=8)).map(overwrite)


def _fuzz_file(victim, corpus, valid: bytes, strategy=None) -> None:
    @FUZZ
    @given(data=damaged_bytes(valid) if strategy is None else strategy)
    def check(data):
        victim.write_bytes(data)
        _load_both_ways(corpus, f"{victim.name} <- {data[:40]!r}")

    check()


@pytest.mark.parametrize("suffix", list(FORMATS))
def test_damaged_clip_in_a_class_folder(suffix, tmp_path):
    root = class_folders(tmp_path / "folders", suffix)
    victim = root / "low" / f"spk0_nohash_0{suffix}"
    assert load_files(str(root), seed=0).task.class_names == ("high", "low")  # the valid seed loads
    _fuzz_file(victim, root, victim.read_bytes())


@pytest.mark.parametrize("suffix", list(FORMATS))
def test_damaged_header_of_a_clip(suffix, tmp_path):
    root = class_folders(tmp_path / "folders", suffix)
    victim = root / "high" / f"spk1_nohash_0{suffix}"
    _fuzz_file(victim, root, victim.read_bytes(), damaged_header(victim.read_bytes()))


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.tsv"])
def test_damaged_manifest(name, tmp_path):
    root = class_folders(tmp_path / "corpus", ".wav")
    sep = "\t" if name.endswith(".tsv") else ","
    rows = [sep.join(("path", "label", "speaker"))]
    rows += [sep.join((p.relative_to(root).as_posix(), p.parent.name, p.name.split("_")[0]))
             for p in sorted(root.rglob("*.wav"))]
    manifest = root / name
    manifest.write_text("\n".join(rows) + "\n")
    assert len(load_files(str(manifest), seed=0).splits["test"]) > 0
    valid = manifest.read_bytes()
    _fuzz_file(manifest, manifest, valid, damaged_bytes(valid) | junk_text(valid))


def test_damaged_clip_in_a_plain_folder(tmp_path):
    root = tmp_path / "plain"
    for i, suffix in enumerate(FORMATS):
        write_clip(root / f"clip{i}{suffix}", i, i)
    victim = root / "clip0.wav"
    assert len(load_files(str(root), seed=0).splits["pretrain"]) == 3
    _fuzz_file(victim, root, victim.read_bytes())
