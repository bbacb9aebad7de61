"""Render the embedded spoken-digit corpus (core_speech/data/digits/) with espeak-ng.

Needs the ``espeak-ng`` program (Debian: ``apt-get install espeak-ng``; GPL-3.0-or-later) at
build time only; the plugin never runs it. Deterministic for a given espeak-ng version
(1.51 was used) and ``--seed``::

    python plugins/speech/scripts/render_digits.py            # writes core_speech/data/digits/

Design. One *speaker* is one espeak-ng voice variant (``!v/<variant>``: formants, pitch
range, breathiness, ...) paired with one English accent (``en-us``, ``en-gb-scotland``, ...),
a base speaking rate (``-s``) and a base pitch (``-p``). Every speaker says every digit
``zero``..``nine`` ``TAKES`` times, each take with its own small rate/pitch jitter. Each clip is
rendered at espeak-ng's 22.05 kHz, trimmed of leading/trailing silence, peak-normalised to
0.9, resampled to 16 kHz with ``torchaudio.functional.resample`` and written as 8-bit mono FLAC
(8 bits keep the whole corpus at a few MB; synthetic speech loses little). Because a speaker
is a variant, holding out speakers holds out voices.

``manifest.csv``: ``path,label,speaker,accent,variant,rate,pitch,split`` (path relative to the
manifest), the layout ``speech/files`` reads for any user's corpus. ``split`` holds out whole
voices: the 16 ``TEST_VOICES`` and 12 ``VAL_VOICES`` (drawn once, seeded, in proportion 0.2 / 0.15
of the clips), the other 52 voices are train.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")
# espeak-ng 1.51 variants (files in espeak-ng-data/voices/!v); the joke/robot ones are left out
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt3", "klatt4", "klatt5", "klatt6", "croak", "whisper", "whisperf", "adam", "Alex", "Alicia",
            "Andrea", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "david", "Denis",
            "Diogo", "ed", "edward", "edward2", "Gene", "Gene2", "grandma", "grandpa", "gustave", "Henrique",
            "Hugo", "iven", "iven2", "iven3", "iven4", "Jacky", "john", "kaukovalta", "Lee", "linda", "Marco",
            "marcelo", "Mario", "max", "Michael", "michel", "miguel", "Mike", "norbert", "Nguyen", "pablo", "paul",
            "pedro", "quincy", "rob", "robert", "sandro", "shelby", "steph", "steph2", "steph3", "travis",
            "victor", "zac")
TEST_VOICES = ("annie", "belinda", "benjamin", "caleb", "david", "ed", "f1", "f2", "john", "m5", "m7", "m8",
               "pablo", "paul", "pedro", "steph3")
VAL_VOICES = ("andy", "boris", "f5", "grandpa", "hugo", "klatt6", "lee", "m2", "max", "quincy", "travis",
              "whisperf")
TAKES = 2
RATE = 16000
NATIVE = 22050


def render(text: str, voice: str, rate: int, pitch: int, tmp: Path) -> np.ndarray:
    out = tmp / "clip.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "-w", str(out), text],
                   check=True, capture_output=True)
    audio, sr = sf.read(out, dtype="float32")
    if sr != NATIVE:
        raise RuntimeError(f"espeak-ng wrote {sr} Hz, expected {NATIVE}")
    return audio


def trim(audio: np.ndarray, threshold: float = 0.02, margin: float = 0.03) -> np.ndarray:
    """Cut leading/trailing samples below ``threshold`` × peak, keeping ``margin`` seconds."""
    loud = np.flatnonzero(np.abs(audio) > threshold * np.abs(audio).max())
    pad = int(margin * NATIVE)
    return audio[max(loud[0] - pad, 0): loud[-1] + pad + 1]


def split_of(speaker: str) -> str:
    """The split holding a voice's clips (module docstring)."""
    return "test" if speaker in TEST_VOICES else ("val" if speaker in VAL_VOICES else "train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "core_speech" / "data" / "digits"))
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng)")
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            accent = ACCENTS[rng.integers(len(ACCENTS))]
            base_rate, base_pitch = int(rng.integers(130, 211)), int(rng.integers(30, 71))
            speaker = f"{variant.lower()}"
            for digit, word in enumerate(DIGITS):
                for take in range(TAKES):
                    rate = int(np.clip(base_rate + rng.integers(-15, 16), 80, 260))
                    pitch = int(np.clip(base_pitch + rng.integers(-8, 9), 0, 99))
                    audio = trim(render(word, f"{accent}+{variant}", rate, pitch, Path(tmp)))
                    audio = 0.9 * audio / np.abs(audio).max()
                    audio = AF.resample(torch.from_numpy(audio), NATIVE, RATE).numpy()
                    name = f"{speaker}_{word}_{take}.flac"
                    sf.write(out / name, np.clip(audio, -1, 1), RATE, format="FLAC", subtype="PCM_S8")
                    rows.append((name, word, speaker, accent, variant, rate, pitch, split_of(speaker)))
    with open(out / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("path", "label", "speaker", "accent", "variant", "rate", "pitch", "split"))
        writer.writerows(rows)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {len(rows)} clips of {len(VARIANTS)} speakers to {out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
