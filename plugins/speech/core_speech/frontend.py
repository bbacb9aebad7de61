"""The fixed front end: torchaudio log-mel or MFCC per clip, then normalisation.

No SpecAugment or any random transform: the LFR pretext is augmentation-free.

* log-mel: ``torchaudio.transforms.MelSpectrogram`` (power 2, Hann window ``win_ms``, hop
  ``hop_ms``, centred frames, HTK mel scale: torchaudio's defaults) then
  ``AmplitudeToDB`` (10·log10, ``top_db`` 80 below each clip's peak);
* MFCC: ``torchaudio.transforms.MFCC`` (DCT-II, ortho) of the same log-mel.

A clip of L samples gives ``L // hop + 1`` frames. Normalisation (per mel bin / coefficient):
``utterance`` standardises each clip with its own frame statistics (cepstral mean and variance
normalisation); ``global`` with the mean/std over all frames of the pretrain pool only (never
test); ``none`` leaves dB values.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from core_speech.options import Options


class FrontEnd:
    """Clip ``(L,)`` -> features ``(F, L // hop + 1)`` float32, per :class:`Options`."""

    def __init__(self, opts: Options):
        import torchaudio.transforms as T

        self.opts = opts
        mel = dict(n_fft=opts.win_length, win_length=opts.win_length, hop_length=opts.hop_length, f_min=opts.f_min,
                   f_max=opts.f_max, n_mels=opts.n_mels, center=True, power=2.0)
        if opts.features == "logmel":
            self.transform = torch.nn.Sequential(T.MelSpectrogram(sample_rate=opts.sample_rate, **mel),
                                                 T.AmplitudeToDB(stype="power", top_db=80.0))
        else:
            self.transform = T.MFCC(sample_rate=opts.sample_rate, n_mfcc=opts.n_mfcc, log_mels=False, melkwargs=mel)

    @torch.no_grad()
    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return self.transform(torch.from_numpy(np.ascontiguousarray(audio, np.float32))).numpy().astype(np.float32)


def utterance_normalise(feats: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Per-bin standardisation of one clip ``(F, T)`` over its own frames."""
    mean = feats.mean(axis=1, keepdims=True)
    std = feats.std(axis=1, keepdims=True)
    return ((feats - mean) / (std + eps)).astype(np.float32)


def global_stats(features: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and std over the frames ``(F, total_frames)`` of the pretrain pool."""
    return features.mean(axis=1).astype(np.float32), (features.std(axis=1) + eps).astype(np.float32)


def normalise(features: np.ndarray, frame_ptr: np.ndarray, how: str,
              stats: Optional[tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """Normalise the concatenated features ``(F, total_frames)`` of all clips (``frame_ptr``
    delimits them): ``utterance``, ``global`` with ``stats`` (mean, std), or ``none``."""
    if how == "none":
        return features
    if how == "global":
        mean, std = stats
        return ((features - mean[:, None]) / std[:, None]).astype(np.float32)
    out = np.empty_like(features)
    for a, b in zip(frame_ptr[:-1], frame_ptr[1:]):
        out[:, a:b] = utterance_normalise(features[:, a:b])
    return out
