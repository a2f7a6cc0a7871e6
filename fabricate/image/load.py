"""Load a photo from disk or bytes into a normalised RGB(A) array."""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fabricate.errors import InputError, NotFound, TooLarge, TooSmall, UnsupportedFormat
from fabricate.schema import without_control_characters

#: The most pixels a photo is decoded to (a memory bound: 40 megapixels of RGBA is 160 MB). PNG and
#: WebP larger than this are refused: they can only be decoded whole.
MAX_PIXELS = 40_000_000
#: JPEGs are decoded reduced (1/2, 1/4 or 1/8 in each direction, done by libjpeg while decoding, so
#: memory stays within MAX_PIXELS): a 48- or 200-megapixel phone photo is scaled, not refused. Larger
#: declared sizes than 1/8 can bring under MAX_PIXELS are decompression bombs.
MAX_JPEG_PIXELS = MAX_PIXELS * 64
#: Pillow's reduced JPEG decodes, linear factor.
JPEG_REDUCTIONS = (1, 2, 4, 8)
#: Refuse smaller images: too little detail to reconstruct anything.
MIN_SIDE = 64

#: The photo formats fabricate reads, by what Pillow detects in the bytes (never the name), and the
#: file extension each is stored under. One rule for the CLI, the library and the web API.
PHOTO_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp"}

# Pillow's own guard raises at 2x its limit; we check the size ourselves first.
Image.MAX_IMAGE_PIXELS = None


@dataclass
class Photo:
    """A decoded photo.

    Attributes
    ----------
    rgb : (H, W, 3) uint8
        Colour in sRGB, EXIF orientation applied.
    alpha : (H, W) float32 in [0, 1], or None when the file has no alpha.
    name : str
        File name the photo came from (never used as a path).
    """

    rgb: np.ndarray
    alpha: Optional[np.ndarray]
    name: str
    #: (width, height) in the file when it was decoded reduced, else None.
    scaled_from: Optional[tuple[int, int]] = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    @property
    def scaling_note(self) -> Optional[str]:
        """A line for the report when the photo was decoded reduced."""
        if self.scaled_from is None:
            return None
        (w0, h0), (w1, h1) = self.scaled_from, self.size
        return (f"{self.name} ({w0}x{h0}, {w0 * h0 / 1e6:.0f} megapixels) was scaled to {w1}x{h1} "
                f"while decoding (photos are used at up to {MAX_PIXELS / 1e6:.0f} megapixels)")


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float64)
    top = 65535.0 if arr.max(initial=0) > 255 else 255.0
    return np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)


def load_photo(source: Union[str, os.PathLike, bytes], name: Optional[str] = None) -> Photo:
    """Decode a JPEG, PNG (8/16-bit, grey, palette, alpha) or WebP photo.

    Parameters
    ----------
    source
        A path or the file's bytes.
    name
        Name to record; defaults to the file's base name.

    Returns
    -------
    Photo

    Raises
    ------
    InputError
        UnsupportedFormat (not an image), TooLarge (a PNG or WebP over 40 megapixels, a JPEG
        over 2,560), TooSmall (under 64 px a side), NotFound (no such file), or InputError
        itself (truncated). A JPEG over 40 megapixels is decoded reduced (``scaled_from``).
    """
    if isinstance(source, (bytes, bytearray)):
        stream = io.BytesIO(source)
        name = name or "photo"
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise NotFound(f"photo not found: {path}")
        stream = open(path, "rb")
        name = name or os.path.basename(path)
    # The name ends up in titles, XML and slicer configs: no control characters there.
    name = without_control_characters(name) or "photo"
    with stream:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = Image.open(stream)
        except UnidentifiedImageError:
            raise UnsupportedFormat(f"{name} is not an image (expected JPEG, PNG or WebP)") from None
        except Exception as exc:  # pillow raises many types on garbage headers
            raise UnsupportedFormat(f"{name} is not a readable image ({exc})") from None
        if image.format not in PHOTO_FORMATS:
            raise UnsupportedFormat(f"{name}: {image.format} photos are not supported; use JPEG, PNG or WebP")
        width, height = image.size
        is_jpeg = image.format in ("JPEG", "MPO")
        limit = MAX_JPEG_PIXELS if is_jpeg else MAX_PIXELS
        if width * height > limit:
            advice = "" if is_jpeg else "; save it as JPEG (decoded reduced) or scale it down"
            raise TooLarge(
                f"{name} is {width}x{height} = {width * height / 1e6:.1f} megapixels; "
                f"the limit is {limit / 1e6:.0f} megapixels for {image.format}{advice}"
            )
        if min(width, height) < MIN_SIDE:
            raise TooSmall(f"{name} is {width}x{height} pixels; each side must be at least {MIN_SIDE} px")
        scaled_from = None
        if width * height > MAX_PIXELS:  # a JPEG (others were refused): decode it reduced
            factor = next(f for f in JPEG_REDUCTIONS if (width // f) * (height // f) <= MAX_PIXELS)
            image.draft(image.mode, (width // factor, height // factor))
            scaled_from = (width, height)
        try:
            image.load()
        except Exception:
            raise InputError(f"{name} is truncated or corrupt and cannot be decoded") from None
        try:
            image = ImageOps.exif_transpose(image)
        except Exception:
            pass  # a broken EXIF block must not reject an otherwise good photo
        photo = _normalise(image, name)
        if scaled_from is not None:  # in the photo's own orientation, like its size
            turned = (photo.size[0] > photo.size[1]) != (width > height)
            photo.scaled_from = (height, width) if turned else scaled_from
        return photo


def _normalise(image: Image.Image, name: str) -> Photo:
    mode = image.mode
    alpha = None
    if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        grey = _to_8bit(np.asarray(image))
        rgb = np.repeat(grey[..., None], 3, axis=2)
    else:
        if mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif mode in ("LA", "PA", "La", "RGBa"):
            image = image.convert("RGBA")
        elif mode == "L" and "transparency" in image.info:
            image = image.convert("RGBA")
        elif mode not in ("RGB", "RGBA"):
            image = image.convert("RGB")
        arr = _to_8bit(np.asarray(image))
        rgb = np.ascontiguousarray(arr[..., :3])
        if arr.shape[2] == 4:
            alpha = arr[..., 3].astype(np.float32) / 255.0
    return Photo(rgb=rgb, alpha=alpha, name=name)
