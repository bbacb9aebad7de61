"""Whole-slide images through MONAI's WSI readers, read lazily by region and level.

``open_slide(path, backend)`` returns a :class:`Slide`: a MONAI reader (``BaseWSIReader``
API: ``get_data(wsi, location, size, level)``, ``get_size``, ``get_mpp``, ...) plus the opened
file. Backends:

* ``"tifffile"`` (default): :class:`TiffFileRegionReader`, MONAI's ``TiffFileWSIReader`` with
  two fixes. MONAI 1.6.1 decodes the *whole* level before cropping a patch
  (``wsi.asarray(level=level)`` in ``_get_patch``) and counts every TIFF page as a level
  (an SVS's thumbnail, label and macro images too). Here levels are the pyramid of the first
  series (``TiffFile.series[0].levels``) and a region decodes only the tiles (or strips) it
  touches, with tifffile's own decoder (JPEG, JPEG 2000, LZW, deflate, ... via imagecodecs).
  Resolution comes from the TIFF resolution tags, else from an Aperio description
  (``MPP = 0.499``, ``AppMag = 20``).
* ``"openslide"``: MONAI's ``OpenSlideWSIReader`` (``read_region`` is lazy already), when
  openslide-python is installed. ``"auto"`` prefers it.

Limits (a damaged or hostile file is refused with one line naming it, before any pixel is
decoded): every level of a TIFF must have a positive size of at most :data:`MAX_SLIDE_SIDE`
pixels a side, tiles or strips of positive size, one data segment per tile or strip, and
segments that lie inside the file (a truncated slide is caught here); the level the tissue
thumbnail is read from holds at most :data:`MAX_THUMBNAIL_SOURCE_PIXELS` (a slide without a
pyramid larger than that is refused: write it as a pyramid). A segment that does not decode is
a :class:`UserError` naming the file and level.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from monai.data.wsi_reader import OpenSlideWSIReader, TiffFileWSIReader

from core.errors import UserError

WSI_SUFFIXES = (".svs", ".tif", ".tiff", ".ndpi", ".scn", ".mrxs", ".bif", ".vms", ".vmu", ".qptiff")
BACKENDS = ("auto", "tifffile", "openslide")
_JPEG = {6, 7, 33007, 34892}  # compressions whose segments need the JPEG tables / header
MAX_SLIDE_SIDE = 1 << 20  # 1,048,576 px a side; the largest whole-slide scans are ~200,000 px
MAX_THUMBNAIL_SOURCE_PIXELS = 1 << 30  # ~32,768 x 32,768: the coarsest level decoded for tissue detection


def aperio_properties(description: str) -> dict:
    """``key = value`` fields of an Aperio ImageDescription (``...|MPP = 0.499|AppMag = 20``)."""
    out = {}
    for field in (description or "").split("|")[1:]:
        key, sep, value = field.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def read_region(page, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Pixels ``[top:top+height, left:left+width]`` of one TIFF page as ``(h, w, samples)``.

    Only the tiles or strips that intersect the region are read from the file and decoded
    (``TiffPage.decode``); pixels outside the image are 0.
    """
    img_h, img_w = int(page.imagelength), int(page.imagewidth)
    spp = int(page.samplesperpixel)
    if page.planarconfig != 1 and spp > 1:
        raise UserError(f"{page.parent.filehandle.path}: planar-separate TIFF pages are not supported; "
                        f"convert the slide to a tiled RGB (contiguous) pyramid")
    out = np.zeros((height, width, spp), dtype=page.dtype)
    y0, y1 = max(top, 0), min(top + height, img_h)
    x0, x1 = max(left, 0), min(left + width, img_w)
    if y0 >= y1 or x0 >= x1:
        return out
    if page.is_tiled:
        th, tw = int(page.tilelength), int(page.tilewidth)
        across = -(-img_w // tw)
        indices = [ty * across + tx for ty in range(y0 // th, (y1 - 1) // th + 1)
                   for tx in range(x0 // tw, (x1 - 1) // tw + 1)]
    else:
        rows = int(page.rowsperstrip or img_h)
        indices = list(range(y0 // rows, (y1 - 1) // rows + 1))
    fh = page.parent.filehandle
    decode = page.decode
    kwargs = {"_fullsize": bool(page.is_tiled)}
    if page.compression in _JPEG:
        kwargs.update(jpegtables=page.jpegtables, jpegheader=page.jpegheader)
    for index in indices:
        offset, count = page.dataoffsets[index], page.databytecounts[index]
        data = None
        if count:
            with fh.lock:
                fh.seek(offset)
                data = fh.read(count)
        try:
            segment, (_, _, sy, sx, _), shape = decode(data, index, **kwargs)
        except Exception as e:  # each codec (zlib, JPEG, LZW, ...) raises its own kind on damaged data
            why = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise UserError(f"{fh.path}: damaged image data in segment {index} of a {img_w}x{img_h} level "
                            f"({why}); re-export the slide") from None
        if segment is None:  # an empty (sparse) segment: leave zeros
            continue
        segment = segment.reshape(shape[1], shape[2], -1)
        ys, ye = max(y0, sy), min(y1, sy + shape[1])
        xs, xe = max(x0, sx), min(x1, sx + shape[2])
        if ys < ye and xs < xe:
            out[ys - top:ye - top, xs - left:xe - left] = segment[ys - sy:ye - sy, xs - sx:xe - sx, :spp]
    return out


class TiffFileRegionReader(TiffFileWSIReader):
    """MONAI's tifffile WSI reader that reads only the tiles a patch touches (module docstring)."""

    @staticmethod
    def _pages(wsi) -> list:
        return [level.pages[0] for level in wsi.series[0].levels]

    @staticmethod
    def get_level_count(wsi) -> int:
        return len(wsi.series[0].levels)

    def get_size(self, wsi, level: int) -> tuple[int, int]:
        page = self._pages(wsi)[level]
        return int(page.imagelength), int(page.imagewidth)

    def get_downsample_ratio(self, wsi, level: int) -> float:
        (h0, w0), (h, w) = self.get_size(wsi, 0), self.get_size(wsi, level)
        return float((h0 / h + w0 / w) / 2)

    def get_mpp(self, wsi, level: int) -> tuple[float, float]:
        page = self._pages(wsi)[level]
        tags = page.tags
        unit = tags.get("ResolutionUnit")
        unit = int(unit.value) if unit is not None else 2
        xres, yres = tags.get("XResolution"), tags.get("YResolution")
        if xres is not None and yres is not None and xres.value[0] and yres.value[0] and unit in (2, 3):
            per_unit = {2: 25400.0, 3: 10000.0}[unit]  # microns per inch / per centimetre
            return (per_unit * yres.value[1] / yres.value[0], per_unit * xres.value[1] / xres.value[0])
        mpp = aperio_properties(self._pages(wsi)[0].description).get("MPP")
        if mpp:
            ds = self.get_downsample_ratio(wsi, level)
            return float(mpp) * ds, float(mpp) * ds
        raise ValueError("this slide records no microns per pixel; tile it by level instead")

    def get_power(self, wsi, level: int) -> float:
        power = aperio_properties(self._pages(wsi)[0].description).get("AppMag")
        if not power:
            raise ValueError("this slide records no objective magnification; tile it by level or mpp instead")
        return float(power) / self.get_downsample_ratio(wsi, level)

    def _get_patch(self, wsi, location, size, level, dtype, mode) -> np.ndarray:
        ds = self.get_downsample_ratio(wsi, level)
        top, left = (int(round(v / ds)) for v in location)
        patch = read_region(self._pages(wsi)[level], top, left, int(size[0]), int(size[1])).astype(dtype, copy=False)
        if patch.shape[-1] == 1:  # greyscale: repeat to RGB
            patch = np.repeat(patch, 3, axis=-1)
        patch = np.moveaxis(patch, -1, self.channel_dim)
        return np.take(patch, [0, 1, 2], self.channel_dim) if mode == "RGB" else patch


def openslide_available() -> bool:
    try:
        import openslide  # noqa: F401
    except Exception:  # ImportError, or OSError when the shared library is missing
        return False
    return True


def make_reader(backend: str = "auto"):
    """A MONAI WSI reader for ``backend`` (``auto``: OpenSlide when installed, else tifffile)."""
    if backend not in BACKENDS:
        raise UserError(f"option backend={backend!r} must be one of {', '.join(BACKENDS)}")
    if backend == "openslide" or (backend == "auto" and openslide_available()):
        if not openslide_available():
            raise UserError("option backend=openslide needs openslide: pip install openslide-python openslide-bin "
                            "(or use backend=tifffile)")
        return OpenSlideWSIReader(channel_dim=0)
    return TiffFileRegionReader(channel_dim=0)


@dataclass
class Slide:
    """An opened whole-slide image: ``reader`` (MONAI) + ``wsi`` (the backend's object)."""

    path: Path
    reader: object
    wsi: object

    @property
    def levels(self) -> int:
        return int(self.reader.get_level_count(self.wsi))

    def size(self, level: int = 0) -> tuple[int, int]:
        """(height, width) at ``level``."""
        return tuple(int(v) for v in self.reader.get_size(self.wsi, level))

    def downsample(self, level: int) -> float:
        return float(self.reader.get_downsample_ratio(self.wsi, level))

    def mpp(self, level: int = 0):
        """Microns per pixel at ``level`` (mean of y and x), or None when the slide does not say."""
        try:
            return float(np.mean(self.reader.get_mpp(self.wsi, level)))
        except Exception:
            return None

    def magnification(self, level: int = 0):
        try:
            return float(self.reader.get_power(self.wsi, level))
        except Exception:
            return None

    def region(self, top: int, left: int, size: int, level: int) -> np.ndarray:
        """An RGB uint8 ``(3, size, size)`` patch at ``level``; (top, left) in level-0 pixels."""
        patch, _ = self.reader.get_data(self.wsi, location=(int(top), int(left)), size=(int(size), int(size)),
                                        level=int(level))
        return np.asarray(patch)

    def close(self) -> None:
        close = getattr(self.wsi, "close", None)
        if close is not None:
            close()


def open_slide(path, backend: str = "auto") -> Slide:
    """Open ``path`` with a MONAI WSI reader; unreadable files are a :class:`UserError` naming them."""
    path = Path(path)
    reader = make_reader(backend)
    try:
        wsi = reader.read(str(path))
        slide = Slide(path, reader, wsi)
        if isinstance(reader, TiffFileRegionReader):
            check_tiff_levels(path, reader._pages(wsi))
        h, w = slide.size(0)
        if h <= 0 or w <= 0:
            raise ValueError("empty image")
        if max(h, w) > MAX_SLIDE_SIDE:
            raise UserError(f"{path}: level 0 is {w}x{h} pixels, over the limit of {MAX_SLIDE_SIDE} a side; "
                            f"crop the slide or check that the file is not damaged")
    except UserError:
        raise
    except Exception as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: cannot read as a whole-slide image ({why}); pass an SVS or tiled (pyramidal) "
                        f"TIFF") from None
    return slide


def thumbnail(slide: Slide, max_side: int = 1024) -> tuple[np.ndarray, float]:
    """An RGB ``(h, w, 3)`` uint8 overview no larger than ``max_side`` and its downsample from level 0.

    Uses the finest pyramid level that fits; when none does, the coarsest level is read in
    regions and each is reduced by block averaging, so memory stays bounded (one region plus
    the thumbnail) however large the slide.
    """
    fitting = [lv for lv in range(slide.levels) if max(slide.size(lv)) <= max_side]
    level = fitting[0] if fitting else slide.levels - 1
    h, w = slide.size(level)
    if h * w > MAX_THUMBNAIL_SOURCE_PIXELS:
        raise UserError(f"{slide.path}: its smallest level is {w}x{h} pixels, too large to find the tissue on "
                        f"(limit {MAX_THUMBNAIL_SOURCE_PIXELS} pixels); write the slide as a pyramid "
                        f"(e.g. vips tiffsave --tile --pyramid)")
    ds = slide.downsample(level)
    if fitting:
        return np.moveaxis(_whole(slide, level, h, w), 0, -1), ds
    factor = math.ceil(max(h, w) / max_side)
    step = factor * max(1, 2048 // factor)  # region side at `level`, a multiple of the factor
    out = np.zeros((h // factor, w // factor, 3), np.uint8)
    for top in range(0, (h // factor) * factor, step):
        for left in range(0, (w // factor) * factor, step):
            bh, bw = min(step, (h // factor) * factor - top), min(step, (w // factor) * factor - left)
            patch, _ = slide.reader.get_data(slide.wsi, location=(int(round(top * ds)), int(round(left * ds))),
                                             size=(bh, bw), level=level)
            block = np.moveaxis(np.asarray(patch), 0, -1)
            out[top // factor:(top + bh) // factor, left // factor:(left + bw) // factor] = np.round(
                block.reshape(bh // factor, factor, bw // factor, factor, 3).mean(axis=(1, 3), dtype=np.float32))
    return out, ds * factor


def _whole(slide: Slide, level: int, h: int, w: int) -> np.ndarray:
    patch, _ = slide.reader.get_data(slide.wsi, location=(0, 0), size=(h, w), level=level)
    return np.asarray(patch)


def check_tiff_levels(path: Path, pages) -> None:
    """Refuse a TIFF pyramid whose levels cannot be read region by region (module docstring: limits)."""
    size = path.stat().st_size
    for level, page in enumerate(pages):
        h, w = int(page.imagelength), int(page.imagewidth)
        where = f"{path}: level {level} ({w}x{h})"
        if h <= 0 or w <= 0 or max(h, w) > MAX_SLIDE_SIDE:
            raise UserError(f"{where}: size outside 1..{MAX_SLIDE_SIDE} pixels a side; the file is damaged or not "
                            f"a slide")
        if page.is_tiled:
            th, tw = int(page.tilelength), int(page.tilewidth)
            if th <= 0 or tw <= 0:
                raise UserError(f"{where}: tiles of size {tw}x{th}; the file is damaged, re-export the slide")
            segments = -(-h // th) * -(-w // tw)
        else:
            rows = int(page.rowsperstrip or h)
            if rows <= 0:
                raise UserError(f"{where}: strips of {rows} rows; the file is damaged, re-export the slide")
            segments = -(-h // rows)
        offsets = np.asarray(page.dataoffsets, dtype=np.float64)
        counts = np.asarray(page.databytecounts, dtype=np.float64)
        if page.planarconfig != 1 and int(page.samplesperpixel) > 1:
            segments *= int(page.samplesperpixel)
        if len(offsets) < segments or len(counts) < segments:
            raise UserError(f"{where}: {len(offsets)} data segments where {segments} are needed; the file is "
                            f"truncated or damaged, re-export the slide")
        if len(offsets) and (offsets + counts).max() > size:
            raise UserError(f"{where}: image data past the end of the file ({size} bytes); the file is truncated, "
                            f"copy or export it again")


def is_slide_file(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in WSI_SUFFIXES)


def slide_id_of(path: Path) -> str:
    """The slide id of a file: its name without the suffix."""
    name = Path(path).name
    for s in sorted(WSI_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(s):
            return name[: -len(s)]
    return Path(path).stem
