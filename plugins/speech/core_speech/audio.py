"""Preparing one clip: read (:func:`core_speech.readers.read_audio`), down-mix, torchaudio
resampling, centre crop; a clip shorter than one analysis window is a :class:`core.errors.BadRecord`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from core.errors import BadRecord
from core_speech.readers import SKIP_FIX, read_audio


# torchaudio's sinc kernel holds (target/g) x (rate/g + 2 width) floats, g = gcd(rate, target): small for
# the usual rates (11025 -> 16000: 640 x 455), 2.8 GB for an odd one (44101 -> 16000: 16000 x 44135)
MAX_KERNEL_RATIO = 1 << 22  # (target/g) * (rate/g) above this (~16 MB kernel): polyphase filtering instead


class Resampler:
    """``torchaudio.transforms.Resample`` to ``target`` Hz, one cached kernel per source rate
    (windowed-sinc interpolation, torchaudio's defaults). A rate whose ratio to the target
    reduces to large integers (an odd rate such as 44101 Hz) would need a kernel of gigabytes
    there: it is resampled by ``scipy.signal.resample_poly`` (polyphase FIR, Kaiser window),
    whose cost does not grow with the ratio."""

    def __init__(self, target: int):
        self.target = int(target)
        self._kernels: dict = {}

    def __call__(self, audio: np.ndarray, rate: int) -> np.ndarray:
        if rate == self.target:
            return audio
        g = math.gcd(int(rate), self.target)
        if (self.target // g) * (int(rate) // g) > MAX_KERNEL_RATIO:
            from scipy.signal import resample_poly

            return resample_poly(audio, self.target // g, int(rate) // g).astype(np.float32)
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
    """Read, down-mix, centre-crop to ``max_seconds`` and resample one clip (only the middle
    ``max_seconds`` are decoded, so long recordings are neither read nor resampled whole);
    clips shorter than ``min_samples`` (one analysis window) after resampling are bad records."""
    audio, rate = read_audio(path, where, max_seconds)
    audio = centre_crop(audio, int(np.ceil(max_seconds * rate)))
    audio = centre_crop(resample(audio, rate), int(round(max_seconds * resample.target)))
    if len(audio) < min_samples:
        raise BadRecord(where, f"too short ({len(audio)} samples at {resample.target} Hz, less than one "
                               f"{min_samples}-sample analysis window)", SKIP_FIX)
    return np.ascontiguousarray(audio, dtype=np.float32)
