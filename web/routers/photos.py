"""The photo outline: what the library would cut out, shown over the thumbnail before building."""
from __future__ import annotations

import asyncio

import cv2
import numpy as np
from fastapi import APIRouter, File, UploadFile

from fabricate.image import Photo, extract_foreground
from web.dependencies import DecodeSlots, UploadLimit
from web.models import OutlineOut
from web.uploads import decode_upload

router = APIRouter(prefix="/api", tags=["photos"])
#: The outline is found on a copy at most this many pixels long: enough for a thumbnail, and
#: segmenting a 40-megapixel photo at full size takes over a gigabyte.
OUTLINE_MAX_SIDE = 1024


def downscaled(photo: Photo, max_side: int) -> tuple[Photo, np.ndarray]:
    """``photo`` at most ``max_side`` px on its long side, and the (x, y) factor from its pixels to the photo's."""
    width, height = photo.size
    shrink = max(width, height) / max_side
    if shrink <= 1:
        return photo, np.ones(2)
    size = (max(1, round(width / shrink)), max(1, round(height / shrink)))
    rgb = cv2.resize(photo.rgb, size, interpolation=cv2.INTER_AREA)
    alpha = None if photo.alpha is None else cv2.resize(photo.alpha, size, interpolation=cv2.INTER_AREA)
    return Photo(rgb=rgb, alpha=alpha, name=photo.name), np.array([width / size[0], height / size[1]])


@router.post("/outline", response_model=OutlineOut)
async def outline(limit: UploadLimit, slots: DecodeSlots, photo: UploadFile = File(...)):
    """The detected object's outline in one photo, in its pixels (the same limits as a job's photos)."""
    async with slots.hold():
        loaded = (await decode_upload(photo, limit))[1]
        width, height = loaded.size
        note = loaded.scaling_note
        preview, factor = await asyncio.to_thread(downscaled, loaded, OUTLINE_MAX_SIDE)
        del loaded  # the full-size pixels are let go before segmenting
        foreground = await asyncio.to_thread(extract_foreground, preview)
    # Pixel centres of the preview back to the photo's pixels.
    points = np.clip((foreground.outline() + 0.5) * factor - 0.5, 0, [width - 1, height - 1])
    return OutlineOut(width=width, height=height, outline=np.round(points, 1).tolist(), source=foreground.source,
                      note=note)
