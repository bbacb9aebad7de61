"""Reader options (``--tile-size 64`` or ``--option tile_size=64``), parsed and checked once."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Mapping, Optional

from core.errors import UserError

TASKS = ("auto", "multiclass", "binary", "regression")


@dataclass(frozen=True)
class Options:
    """Options of the pathology datasets.

    tile_size: tile side in pixels the encoder sees (slides: default 64; patch sets: default
        the most common image size; other sizes are resized with MONAI ``Resize``, area mode).
    level / mpp / magnification: the resolution slides are tiled at (one of them; default
        level 0); ``mpp`` and ``magnification`` read the nearest finer level and reduce.
    overlap: fraction of a tile shared with its neighbour, in [0, 1).
    min_tissue: least tissue fraction (Otsu on saturation at a low resolution) under a kept
        slide tile; 0 keeps every tile.
    thumbnail_size: longest side of the low-resolution view used for tissue detection.
    backend: ``auto`` (OpenSlide when installed, else tifffile), ``tifffile`` or ``openslide``.
    stain_norm: ``none`` or ``macenko`` (MONAI NormalizeHEStains).
    val_fraction / test_fraction: shares of tiles for val / test (by whole slides or spatial blocks).
    split_seed: seed of the split (default: the run's seed; the embedded default uses 0).
    block_tiles: side, in tiles, of the spatial blocks used to split within a slide.
    slide_pattern: regular expression giving a patch file's slide id from its name (first group,
        else the whole match), for class folders; CSV manifests use a ``slide_id`` column.
    task: ``auto`` or a task kind for CSV labels (auto: numbers with decimals are regression).
    """

    tile_size: Optional[int] = None
    level: Optional[int] = None
    mpp: Optional[float] = None
    magnification: Optional[float] = None
    overlap: float = 0.0
    min_tissue: float = 0.5
    thumbnail_size: int = 1024
    backend: str = "auto"
    stain_norm: str = "none"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: Optional[int] = None
    block_tiles: int = 4
    slide_pattern: Optional[str] = None
    task: str = "auto"


NAMES = tuple(f.name for f in fields(Options))
_INTS = {"tile_size": 8, "level": 0, "thumbnail_size": 64, "split_seed": 0, "block_tiles": 1}
_FLOATS = {"mpp": (0, None), "magnification": (0, None), "overlap": (0, 1), "min_tissue": (0, 1),
           "val_fraction": (0, 1), "test_fraction": (0, 1)}


def _int(key, value, low):
    try:
        out = int(float(value))
        if float(value) != out:
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"option {key}={value!r} is not an integer; pass e.g. --option {key}={max(low, 1)}") from None
    if out < low:
        raise UserError(f"option {key}={value!r} must be >= {low}")
    return out


def _float(key, value, low, high):
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise UserError(f"option {key}={value!r} is not a number") from None
    closed_low = key in ("overlap", "min_tissue")
    if (out < low if closed_low else out <= low) or (high is not None and out >= high and key != "min_tissue") \
            or (key == "min_tissue" and out > 1):
        raise UserError(f"option {key}={value!r} is out of range ({'[' if closed_low else '('}{low}, {high or 'inf'}))")
    return out


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "pathology/files") -> Options:
    """Check ``options`` (strings from the CLI or typed values from a config file)."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"{dataset} has no option '{unknown[0]}'; it takes: {', '.join(allowed)}")
    out = {}
    for key, value in options.items():
        if value is None or value == "":
            continue
        if key in _INTS:
            out[key] = _int(key, value, _INTS[key])
        elif key in _FLOATS:
            out[key] = _float(key, value, *_FLOATS[key])
        elif key == "task":
            if str(value) not in TASKS:
                raise UserError(f"option task={value!r} must be one of {', '.join(TASKS)}")
            out[key] = str(value)
        elif key == "slide_pattern":
            try:
                re.compile(str(value))
            except re.error as e:
                raise UserError(f"option slide_pattern={value!r} is not a regular expression ({e})") from None
            out[key] = str(value)
        else:
            out[key] = str(value)
    opts = Options(**out)
    if opts.val_fraction + opts.test_fraction >= 1:
        raise UserError(f"options val_fraction + test_fraction = {opts.val_fraction + opts.test_fraction} "
                        f"leave no training data; keep their sum below 1")
    return opts
