"""Reading one clip: soundfile I/O, mono down-mix, torchaudio resampling, centre crop.

Every problem with a file is a :class:`core.errors.BadRecord` naming it: unreadable or
unknown format (libsndfile's message), empty, truncated (a WAV whose header declares more
sample frames than the file holds: libsndfile silently reads the part that is there, so the
RIFF header is checked here), non-finite samples, or shorter than one analysis window.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from core.errors import BadRecord

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SKIP_FIX = "fix or remove the file, or pass --on-bad-record skip to leave it out"


def declared_wav_frames(path: Path) -> Optional[int]:
    """Sample frames a RIFF/WAVE header declares (``data`` chunk size / block align), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE" or head[:4] == b"RF64":
                return None
            block_align = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    fmt = f.read(size + (size & 1))
                    block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
                elif name == b"data":
                    return size // block_align if block_align else None
                else:
                    f.seek(size + (size & 1), 1)
    except OSError:
        return None


def read_audio(path: Path, where: str) -> tuple[np.ndarray, int]:
    """``(samples (L,) float32 mono, sample_rate)`` of an audio file; channels are averaged."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        reason = str(e).replace(f"'{path}'", "it").replace(str(path), "it").strip() or type(e).__name__
        raise BadRecord(where, f"unreadable audio ({reason})", SKIP_FIX) from None
    if len(data) == 0:
        raise BadRecord(where, "empty audio (0 samples)", SKIP_FIX)
    if Path(path).suffix.lower() == ".wav":
        declared = declared_wav_frames(Path(path))
        if declared is not None and declared > len(data):
            raise BadRecord(where, f"truncated WAV (header declares {declared} samples, the file holds {len(data)})",
                            SKIP_FIX)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise BadRecord(where, "audio holds NaN or inf samples", SKIP_FIX)
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


class Resampler:
    """``torchaudio.transforms.Resample`` to ``target`` Hz, one cached kernel per source rate
    (windowed-sinc interpolation, torchaudio's defaults)."""

    def __init__(self, target: int):
        self.target = int(target)
        self._kernels: dict = {}

    def __call__(self, audio: np.ndarray, rate: int) -> np.ndarray:
        if rate == self.target:
            return audio
        import torchaudio

        transform = self._kernels.get(rate)
        if transform is None:
            transform = self._kernels[rate] = torchaudio.transforms.Resample(rate, self.target)
        with torch.no_grad():
            return transform(torch.from_numpy(audio)).numpy()


def centre_crop(audio: np.ndarray, max_samples: int) -> np.ndarray:
    """The middle ``max_samples`` of a longer clip (deterministic: no random crops); shorter
    clips are returned unchanged (padding happens per batch, with a mask)."""
    if len(audio) <= max_samples:
        return audio
    start = (len(audio) - max_samples) // 2
    return audio[start: start + max_samples]


def load_clip(path: Path, where: str, resample: Resampler, max_seconds: float, min_samples: int) -> np.ndarray:
    """Read, down-mix, centre-crop to ``max_seconds`` and resample one clip (cropped at the
    source rate first, so long recordings are not resampled whole); clips shorter than
    ``min_samples`` (one analysis window) after resampling are bad records."""
    audio, rate = read_audio(path, where)
    audio = centre_crop(audio, int(np.ceil(max_seconds * rate)))
    audio = centre_crop(resample(audio, rate), int(round(max_seconds * resample.target)))
    if len(audio) < min_samples:
        raise BadRecord(where, f"too short ({len(audio)} samples at {resample.target} Hz, less than one "
                               f"{min_samples}-sample analysis window)", SKIP_FIX)
    return np.ascontiguousarray(audio, dtype=np.float32)
