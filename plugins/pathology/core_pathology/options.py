"""Reader options (``--tile-size 64`` or ``--option tile_size=64``), parsed and checked once."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Optional

from core.options import choice, fraction, integer, number, regex
from core.options import parse_options as reader_options
from core.splits import NONZERO_SPLIT_RULES, check_fractions

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
RULES = {
    **NONZERO_SPLIT_RULES, "tile_size": integer(8), "level": integer(0), "thumbnail_size": integer(64),
    "block_tiles": integer(1), "mpp": number(0, low_open=True), "magnification": number(0, low_open=True),
    "overlap": fraction(), "min_tissue": number(0, 1), "task": choice(*TASKS), "slide_pattern": regex(),
}


def parse_options(options: Optional[Mapping], allowed=NAMES, dataset: str = "pathology/files") -> Options:
    """Check ``options`` (strings from the CLI or typed values from a config file)."""
    opts = reader_options(options, Options, RULES, dataset=dataset, allowed=allowed)
    check_fractions(opts.val_fraction, opts.test_fraction, "tiles")
    return opts
