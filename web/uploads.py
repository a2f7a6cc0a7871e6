"""Reading an uploaded photo: size limit while streaming, then the library's own checks, then the sniffed format."""
from __future__ import annotations

import asyncio
import io
import re

from fastapi import UploadFile
from PIL import Image

from fabricate.errors import InputError, TooLarge, UnsupportedFormat
from fabricate.image import load_photo
from fabricate.jobs.store import PhotoFile

#: Photo formats accepted over HTTP, by what Pillow detects in the bytes (never the name or header).
PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "MPO": "jpg"}
CHUNK_BYTES = 1 << 20


def display_name(upload: UploadFile) -> str:
    """A harmless name to show and record (never used as a path)."""
    return re.sub(r"[^\w.\- ]", "_", (upload.filename or "photo"))[-100:] or "photo"


async def read_photo(upload: UploadFile, limit_bytes: int) -> PhotoFile:
    """The upload as a :class:`PhotoFile`, or a typed InputError (the app answers with its HTTP status).

    The library decodes it once here (format, 64 px to 40 megapixels), so a bad photo is
    refused before a job exists.
    """
    name = display_name(upload)
    data = bytearray()
    while chunk := await upload.read(CHUNK_BYTES):
        data += chunk
        if len(data) > limit_bytes:
            raise TooLarge(f"{name} is larger than {limit_bytes / 1024 / 1024:.0f} MB")
    if not data:
        raise InputError(f"{name} is empty")
    data = bytes(data)
    await asyncio.to_thread(load_photo, data, name)
    detected = Image.open(io.BytesIO(data)).format
    if detected not in PHOTO_FORMATS:
        raise UnsupportedFormat(f"{name}: {detected} photos are not supported; use JPEG, PNG or WebP")
    return PhotoFile(data, PHOTO_FORMATS[detected], name)
