"""The photo outline: what the library would cut out, shown over the thumbnail before building."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, File, UploadFile

from fabricate.image import extract_foreground, load_photo
from web.dependencies import UploadLimit
from web.models import OutlineOut
from web.uploads import read_photo

router = APIRouter(prefix="/api", tags=["photos"])


@router.post("/outline", response_model=OutlineOut)
async def outline(limit: UploadLimit, photo: UploadFile = File(...)):
    """The detected object's outline in one photo (the same limits as a job's photos)."""
    upload = await read_photo(photo, limit)

    def detect() -> OutlineOut:
        loaded = load_photo(upload.data, upload.name)
        foreground = extract_foreground(loaded)
        width, height = loaded.size
        return OutlineOut(width=width, height=height, outline=foreground.outline().tolist(), source=foreground.source)

    return await asyncio.to_thread(detect)
