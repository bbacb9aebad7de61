"""Writers of small test inputs in the real formats: pyramidal tiled TIFFs (tifffile), tile
folders and CSV manifests (Pillow). Used by the tests and usable for demos.

:func:`write_pyramid` never holds a level in memory: tiles come from a generator, blank
background tiles are encoded once and reused, so a multi-gigapixel slide takes seconds and a
few MB of disk.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

import numpy as np

BACKGROUND = (242, 240, 244)  # glass: bright, nearly grey


def tissue_pixels(shape, seed: int, nuclei_per_px: float = 1 / 300) -> np.ndarray:
    """H&E-like pixels: pink stroma with dark purple nuclei (seeded)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    img = np.empty((h, w, 3), np.uint8)
    img[...] = (226, 150, 190)
    img = (img.astype(np.int16) + rng.integers(-12, 12, size=(h, w, 3))).clip(0, 255).astype(np.uint8)
    for _ in range(max(1, int(h * w * nuclei_per_px))):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(2, 5)
        img[max(cy - r, 0):cy + r, max(cx - r, 0):cx + r] = (95, 60, 140)
    return img


def _inside(boxes, top, left, h, w):
    """Boxes (level coordinates) intersecting the window, clipped to it (window coordinates)."""
    out = []
    for (y0, x0, y1, x1) in boxes:
        a, b, c, d = max(y0, top), max(x0, left), min(y1, top + h), min(x1, left + w)
        if a < c and b < d:
            out.append((a - top, b - left, c - top, d - left))
    return out


def write_pyramid(path, height: int, width: int, tissue: Sequence[tuple] = (), tile: int = 256,
                  levels: int = 4, mpp: float = 0.5, seed: int = 0, compression: str = "zlib",
                  nuclei_per_px: float = 1 / 300) -> Path:
    """A tiled pyramidal RGB TIFF (level 0 + ``levels - 1`` SubIFDs, each halving the size)
    with background everywhere except the ``tissue`` boxes ``(y0, x0, y1, x1)`` in level-0
    pixels (``nuclei_per_px`` sets how crowded the nuclei are). Resolution tags carry ``mpp``
    microns per pixel at level 0."""
    import imagecodecs
    import tifffile

    path = Path(path)
    encode = {"zlib": lambda a: imagecodecs.zlib_encode(a), "jpeg": lambda a: imagecodecs.jpeg8_encode(a, level=90)}
    blank = encode[compression](np.full((tile, tile, 3), BACKGROUND, np.uint8))

    def tiles(level: int, h: int, w: int):
        scale = 2 ** level
        boxes = [(y0 // scale, x0 // scale, math.ceil(y1 / scale), math.ceil(x1 / scale)) for y0, x0, y1, x1 in tissue]
        for ty in range(0, h, tile):
            for tx in range(0, w, tile):
                parts = _inside(boxes, ty, tx, tile, tile)
                if not parts:
                    yield blank
                    continue
                img = np.full((tile, tile, 3), BACKGROUND, np.uint8)
                for k, (a, b, c, d) in enumerate(parts):
                    img[a:c, b:d] = tissue_pixels((c - a, d - b), seed + 7919 * level + ty * 31 + tx + k,
                                                  nuclei_per_px)
                yield encode[compression](img)

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for level in range(levels):
            h, w = -(-height // 2 ** level), -(-width // 2 ** level)
            res = 1e4 / (mpp * 2 ** level)  # pixels per centimetre
            tif.write(tiles(level, h, w), shape=(h, w, 3), dtype=np.uint8, tile=(tile, tile), photometric="rgb",
                      compression=compression, resolution=(res, res), resolutionunit="CENTIMETER",
                      subifds=levels - 1 if level == 0 else None, subfiletype=1 if level else 0, metadata=None)
    return path


def write_image_pyramid(path, image: np.ndarray, levels: int = 3, tile: int = 128, mpp: float = 0.5) -> Path:
    """A pyramidal tiled TIFF of an in-memory RGB ``image`` (levels by 2x block averaging)."""
    import tifffile

    with tifffile.TiffWriter(path, bigtiff=False) as tif:
        level_img = np.asarray(image, np.uint8)
        for level in range(levels):
            res = 1e4 / (mpp * 2 ** level)
            tif.write(level_img, tile=(tile, tile), photometric="rgb", compression="zlib", resolution=(res, res),
                      resolutionunit="CENTIMETER", subifds=levels - 1 if level == 0 else None,
                      subfiletype=1 if level else 0, metadata=None)
            h, w = level_img.shape[0] // 2 * 2, level_img.shape[1] // 2 * 2
            level_img = level_img[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    return Path(path)


def tile_image(kind: str, size: int, seed: int) -> np.ndarray:
    """A ``(size, size, 3)`` tile of a class: ``tissue`` (H&E-like), ``background`` (glass) or
    ``dense`` (crowded nuclei)."""
    rng = np.random.default_rng(seed)
    if kind == "background":
        return (np.array(BACKGROUND) + rng.integers(-6, 6, (size, size, 3))).clip(0, 255).astype(np.uint8)
    img = tissue_pixels((size, size), seed)
    if kind == "dense":
        img = (img.astype(np.float32) * 0.6 + np.array([60, 30, 90]) * 0.4).astype(np.uint8)
    return img


def write_tile_folder(root, per_class: int = 8, size: int = 32, classes=("background", "tissue"),
                      slides: int = 0, suffix: str = ".png") -> Path:
    """``root/<class>/<slide>_<i><suffix>`` tiles (slide ids ``s0``.. when ``slides``)."""
    from PIL import Image

    root = Path(root)
    for c, kind in enumerate(classes):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            name = f"s{i % slides}_{kind}{i}" if slides else f"{kind}{i}"
            Image.fromarray(tile_image(kind, size, seed=1000 * c + i)).save(root / kind / f"{name}{suffix}")
    return root


def write_manifest(path, rows: Sequence[tuple], header=("path", "label", "slide_id")) -> Path:
    """A CSV manifest of ``rows`` (tuples matching ``header``)."""
    path = Path(path)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path
