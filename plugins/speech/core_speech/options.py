"""Reader options: ``--sample-rate 8000`` (reader flags) or ``--option sample_rate=8000``."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Optional

from core.errors import UserError
from core.options import choice, integer, number, regex
from core.options import parse_options as reader_options
from core.splits import SPLIT_RULES, check_fractions

FEATURES = ("logmel", "mfcc")
NORMALISE = ("utterance", "global", "none")
LAYOUTS = ("auto", "manifest", "folders", "plain")
TASKS = ("label", "speaker")
SPLITS = ("auto", "speaker", "random", "column")


@dataclass(frozen=True)
class Options:
    """Options of the speech datasets (see the plugin README for the full story).

    Audio: ``sample_rate`` every clip is resampled to (Hz, default 16000); multi-channel clips
    are down-mixed to mono (channel mean). ``max_seconds``: longer clips are centre-cropped to
    this length (default 2.0); shorter clips keep their length and are zero-padded per batch
    with an exact frame mask (nothing downstream sees the padding).
    Front end: ``features`` ``logmel`` (log-mel power in dB) or ``mfcc``; ``n_mels`` (40),
    ``n_mfcc`` (20), ``win_ms`` (25), ``hop_ms`` (10), ``f_min`` (20 Hz), ``f_max`` (Nyquist).
    ``normalise``: ``global`` (per-bin mean/std over the frames of the pretrain pool only),
    ``utterance`` (per-bin mean/std of each clip) or ``none``.
    Corpus: ``layout`` ``auto``/``manifest``/``folders``/``plain``; ``path_col``, ``label_col``,
    ``speaker_col`` (manifest columns, auto-detected); ``speaker_regex`` (folders: a regex on
    the file name whose first group is the speaker, default Speech Commands' ``<speaker>_nohash_``);
    ``unlabelled``: a folder or manifest of extra clips added to the pretrain pool only.
    Task and split: ``task`` ``label`` (the label column / class folder) or ``speaker``
    (speaker identification); ``split`` ``auto`` (a ``split`` column if present, else held-out
    speakers for ``task=label`` when speakers are known, else stratified random), ``speaker``,
    ``random`` or ``column``; ``val_fraction`` (0.15), ``test_fraction`` (0.2), ``split_seed``
    (default: the run's seed; the embedded corpus fixes its own).
    """

    sample_rate: int = 16000
    max_seconds: float = 2.0
    features: str = "logmel"
    n_mels: int = 40
    n_mfcc: int = 20
    win_ms: float = 25.0
    hop_ms: float = 10.0
    f_min: float = 20.0
    f_max: Optional[float] = None
    normalise: str = "global"
    layout: str = "auto"
    path_col: Optional[str] = None
    label_col: Optional[str] = None
    speaker_col: Optional[str] = None
    speaker_regex: Optional[str] = None
    unlabelled: Optional[str] = None
    task: str = "label"
    split: str = "auto"
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    split_seed: Optional[int] = None

    @property
    def win_length(self) -> int:
        return int(round(self.win_ms * self.sample_rate / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def max_samples(self) -> int:
        return int(round(self.max_seconds * self.sample_rate))

    @property
    def max_frames(self) -> int:
        return self.max_samples // self.hop_length + 1  # centred STFT frames

    @property
    def n_features(self) -> int:
        return self.n_mels if self.features == "logmel" else self.n_mfcc


NAMES = tuple(f.name for f in fields(Options))
# options of the embedded corpus: the front end and the task, not its layout or split
EMBEDDED = ("sample_rate", "max_seconds", "features", "n_mels", "n_mfcc", "win_ms", "hop_ms", "f_min", "f_max",
            "normalise", "task", "unlabelled")


RULES = {
    **SPLIT_RULES, "sample_rate": integer(1000), "n_mels": integer(1), "n_mfcc": integer(1),
    "max_seconds": number(1e-3), "win_ms": number(1e-3), "hop_ms": number(1e-3), "f_min": number(0.0),
    "f_max": number(0.0), "features": choice(*FEATURES), "normalise": choice(*NORMALISE), "layout": choice(*LAYOUTS),
    "task": choice(*TASKS), "split": choice(*SPLITS), "speaker_regex": regex(),
}


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "speech/files") -> Options:
    """Check ``options`` (strings from the CLI, typed values from a config file)."""
    opts = reader_options(options, Options, RULES, dataset=dataset, allowed=allowed)
    check_fractions(opts.val_fraction, opts.test_fraction, "clips")
    nyquist = opts.sample_rate / 2
    if opts.f_max is not None and not opts.f_min < opts.f_max <= nyquist:
        raise UserError(f"option f_max={opts.f_max} must lie in (f_min={opts.f_min}, {nyquist}] at "
                        f"sample_rate={opts.sample_rate}")
    if opts.f_min >= nyquist:
        raise UserError(f"option f_min={opts.f_min} must be below the Nyquist frequency {nyquist}")
    if opts.hop_length < 1 or opts.win_length < opts.hop_length:
        raise UserError(f"win_ms={opts.win_ms} and hop_ms={opts.hop_ms} give a window of {opts.win_length} and a hop "
                        f"of {opts.hop_length} samples; the window must be at least one hop")
    if opts.features == "mfcc" and opts.n_mfcc > opts.n_mels:
        raise UserError(f"option n_mfcc={opts.n_mfcc} exceeds n_mels={opts.n_mels}; lower n_mfcc or raise n_mels")
    return opts
