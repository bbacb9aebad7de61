"""Reading clips: resampling, down-mix, crop, and bad files named in the error."""
import numpy as np
import pytest
import soundfile as sf

from core.errors import BadRecord
from core_speech.audio import Resampler, centre_crop, load_clip
from core_speech.readers import declared_wav_frames, read_audio


def _peak_hz(x, rate):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[spec.argmax()]


@pytest.mark.parametrize("rate,ext", [(8000, ".wav"), (22050, ".flac"), (44100, ".wav"), (16000, ".flac")])
def test_resampling_keeps_duration_and_pitch(tmp_path, rate, ext):
    t = np.arange(int(0.5 * rate)) / rate
    path = tmp_path / f"tone{ext}"
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    out = load_clip(path, str(path), Resampler(16000), max_seconds=2.0, min_samples=400)
    assert out.dtype == np.float32 and abs(len(out) - 8000) <= 1
    assert abs(_peak_hz(out, 16000) - 440) < 5


def test_stereo_is_down_mixed_and_long_clips_centre_cropped(tmp_path):
    left = np.linspace(-0.5, 0.5, 16000, dtype=np.float32)
    sf.write(tmp_path / "st.wav", np.stack([left, np.zeros_like(left)], 1), 16000, subtype="FLOAT")
    mono, rate = read_audio(tmp_path / "st.wav", "st.wav")
    assert rate == 16000 and np.allclose(mono, left / 2, atol=1e-6)
    out = load_clip(tmp_path / "st.wav", "st.wav", Resampler(16000), max_seconds=0.5, min_samples=400)
    assert len(out) == 8000 and np.allclose(out, centre_crop(left / 2, 8000), atol=1e-6)
    assert np.allclose(out[0], left[4000] / 2, atol=1e-6)  # the middle, not the start


def test_bad_files_raise_bad_record_naming_the_file(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(8000, np.float32) + 0.1, 16000, subtype="PCM_16")
    data = good.read_bytes()
    cases = {"empty.wav": b"", "garbage.wav": b"not audio at all", "trunc.wav": data[: len(data) // 2]}
    flac = tmp_path / "ok.flac"
    sf.write(flac, np.random.default_rng(0).normal(size=16000).astype(np.float32) * 0.1, 16000)
    cases["trunc.flac"] = flac.read_bytes()[: flac.stat().st_size // 2]
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    sf.write(tmp_path / "short.wav", np.zeros(100, np.float32), 16000)
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan] * 400, np.float32), 16000, subtype="FLOAT")
    expected = {"empty.wav": "unreadable", "garbage.wav": "unreadable", "trunc.wav": "truncated WAV",
                "trunc.flac": "unreadable", "zero.wav": "empty", "short.wav": "too short", "nan.wav": "NaN"}
    for name, why in expected.items():
        with pytest.raises(BadRecord) as err:
            load_clip(tmp_path / name, f"corpus/{name}", Resampler(16000), 2.0, 400)
        assert err.value.record == f"corpus/{name}" and why in err.value.reason, (name, err.value)
    assert declared_wav_frames(good) == 8000 and declared_wav_frames(tmp_path / "trunc.wav") == 8000
    assert len(load_clip(good, "good.wav", Resampler(16000), 2.0, 400)) == 8000
