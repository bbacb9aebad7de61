"""Small corpora in the real formats (WAV/FLAC via soundfile) for tests and examples.

A clip of class ``c`` by speaker ``s`` is a harmonic tone whose fundamental depends on the class
and whose spectral tilt and vibrato depend on the speaker, with a little noise; lengths and
sample rates vary, some clips are stereo.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

RATES = (8000, 16000, 22050, 44100)


def tone(label: int, speaker: int, seconds: float, rate: int, rng: np.random.Generator, stereo: bool = False):
    t = np.arange(int(seconds * rate)) / rate
    f0 = 180.0 + 90.0 * label
    tilt = 0.4 + 0.15 * (speaker % 4)
    vibrato = 1 + 0.02 * np.sin(2 * np.pi * (3 + speaker) * t)
    x = sum(tilt ** h * np.sin(2 * np.pi * f0 * (h + 1) * t * vibrato) for h in range(4))
    x = 0.3 * x / np.abs(x).max() + 0.01 * rng.normal(size=len(t))
    x = x.astype(np.float32)
    return np.stack([x, 0.5 * x], axis=1) if stereo else x


def write_clip(path: Path, label: int, speaker: int, rng: np.random.Generator) -> Path:
    import soundfile as sf

    rate = int(rng.choice(RATES))
    audio = tone(label, speaker, float(rng.uniform(0.25, 1.2)), rate, rng, stereo=bool(rng.random() < 0.2))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate, subtype="PCM_16")
    return path


def class_folders(root: Path, classes=("low", "mid", "high"), speakers: int = 6, per: int = 3, seed: int = 0) -> Path:
    """``root/<class>/<speaker>_nohash_<n>.{wav,flac}`` (Speech-Commands layout), mixed rates and lengths."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        for s in range(speakers):
            for n in range(per):
                ext = ".wav" if (s + n) % 2 == 0 else ".flac"
                write_clip(Path(root) / name / f"spk{s}_nohash_{n}{ext}", c, s, rng)
    return Path(root)


def manifest(root: Path, classes=("yes", "no", "up", "down"), speakers: int = 8, per: int = 2, seed: int = 0,
             name: str = "manifest.csv") -> Path:
    """``root/audio/*.{wav,flac}`` and ``root/<name>`` with columns ``path,label,speaker``."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(speakers):
        for c, label in enumerate(classes):
            for n in range(per):
                rel = f"audio/s{s}_{label}_{n}{'.flac' if n % 2 else '.wav'}"
                write_clip(Path(root) / rel, c, s, rng)
                rows.append((rel, label, f"speaker{s}"))
    path = Path(root) / name
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t" if path.suffix == ".tsv" else ",", lineterminator="\n")
        writer.writerow(("path", "label", "speaker"))
        writer.writerows(rows)
    return path
