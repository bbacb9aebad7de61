"""Nothing dropped silently and bounded costs (issue 15, items 4 and 5): files a folder corpus
does not read are listed in skipped.csv; an hour-long recording is not decoded whole; an odd or
damaged sample rate cannot blow up resampling."""
from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from core.errors import BadRecord
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, only_run_dir
from core_speech import synthetic
from core_speech.audio import Resampler, load_clip
from core_speech.datasets import load_files
from core_speech.readers import MAX_RATE, read_audio

RATE = 16000


def long_wav(path, seconds: int, rate: int = RATE):
    """A mono 16-bit WAV of ``seconds``: a sparse file of silence with a tone in its middle 2 s."""
    n = seconds * rate
    header = (b"RIFF" + struct.pack("<I", 36 + 2 * n) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
              2 * rate, 2, 16) + b"data" + struct.pack("<I", 2 * n))
    tone = (synthetic.tone(1, 1, 2.0, rate, np.random.default_rng(0)) * 32767).astype("<i2")
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + 2 * n)
        f.seek(len(header) + 2 * ((n - len(tone)) // 2))
        f.write(tone.tobytes())
    return path


def _mp3_like(path):
    path.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(200))  # an MP3 container soundfile is not asked to read


# -- in process ------------------------------------------------------------------------------------
def test_unsupported_and_misplaced_files_of_class_folders_are_listed(tmp_path):
    root = synthetic.class_folders(tmp_path / "folders", classes=("low", "high"), speakers=4, per=1)
    _mp3_like(root / "low" / "spk9_nohash_0.mp3")
    sf.write(str(root / "stray.wav"), np.zeros(4000, np.float32), RATE)  # no class folder: no label
    (root / "_background_noise_").mkdir()
    sf.write(str(root / "_background_noise_" / "noise.wav"), np.zeros(4000, np.float32), RATE)  # documented skip
    (root / "low" / ".DS_Store").write_bytes(b"\x00")  # hidden
    for mode in ("error", "skip"):
        data = load_files(str(root), seed=0, on_bad_record=mode)
        listed = dict(data.skipped)
        assert sorted(listed) == [str(root / "low" / "spk9_nohash_0.mp3"), str(root / "stray.wav")]
        assert "unsupported file type '.mp3'" in listed[str(root / "low" / "spk9_nohash_0.mp3")]
        assert "outside the class folders" in listed[str(root / "stray.wav")]
        assert sum(len(data.splits[s]) for s in ("train", "val", "test")) == 8
        assert {f["input_index"] for f in data.failed} == {8, 9}  # after the clips: core embed keeps input order


def test_a_plain_folder_lists_what_is_not_audio(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    sf.write(str(root / "a.wav"), synthetic.tone(0, 0, 0.5, RATE, np.random.default_rng(0)), RATE)
    (root / "readme.txt").write_text("clips")
    data = load_files(str(root), seed=0)
    assert len(data.splits["pretrain"]) == 1 and [r for r, _ in data.skipped] == [str(root / "readme.txt")]


def test_an_hour_long_recording_is_not_decoded_whole(tmp_path):
    path = long_wav(tmp_path / "hour.wav", 3600)  # 57.6 M samples: 230 MB as float32
    tracemalloc.start()
    try:
        wave = load_clip(path, "hour.wav", Resampler(RATE), max_seconds=2.0, min_samples=400)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(wave) == 2 * RATE and np.abs(wave).max() > 0.1  # the middle 2 s: the tone, not the silence
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB"


def test_an_odd_sample_rate_is_resampled_within_bounds(tmp_path):
    audio = synthetic.tone(1, 1, 1.0, 44101, np.random.default_rng(0))
    out = Resampler(RATE)(audio, 44101)  # torchaudio's kernel would be 16000 x 44135 floats (2.8 GB)
    assert abs(len(out) - RATE) <= 1 and out.dtype == np.float32
    usual = Resampler(RATE)(synthetic.tone(1, 1, 1.0, 44100, np.random.default_rng(0)), 44100)
    spectrum = [np.abs(np.fft.rfft(x))[: RATE // 2] for x in (out[:RATE], usual[:RATE])]
    assert np.argmax(spectrum[0]) == pytest.approx(np.argmax(spectrum[1]), abs=2)  # the same fundamental


@pytest.mark.parametrize("rate", [1, 999, MAX_RATE + 1, 2_000_000_000])
def test_an_implausible_sample_rate_is_a_bad_record(tmp_path, rate):
    path = tmp_path / "odd.wav"
    sf.write(str(path), np.zeros(4000, np.float32), RATE)
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(data))
    with pytest.raises(BadRecord, match=rf"odd.wav: implausible sample rate {rate} Hz|odd.wav: unreadable audio"):
        read_audio(path, "odd.wav")


# -- the real CLI ----------------------------------------------------------------------------------
def test_cli_lists_an_mp3_and_crops_an_hour_long_clip(cli, tmp_path):
    root = synthetic.class_folders(tmp_path / "folders", classes=("low", "high"), speakers=4, per=2)
    _mp3_like(root / "high" / "spk0_nohash_7.mp3")
    long_wav(root / "low" / "spk1_nohash_9.wav", 3600)
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "speech", "--data", root, "--sample-rate", "8000", "--out", out, *TINY))
    run = only_run_dir(out)
    skipped = (run / "skipped.csv").read_text()
    assert "spk0_nohash_7.mp3" in skipped and "unsupported file type '.mp3'" in skipped
    assert "spk1_nohash_9.wav" not in skipped  # read: its middle 2 s
