"""Reading an uploaded photo: size limit while streaming, then the library's own checks, then the sniffed format.

Decoding a photo is the heaviest thing the web process does itself (a 40-megapixel photo with
transparency takes 730 MB while it is decoded), so :class:`PhotoDecodeSlots` lets one request
decode at a time; the others wait their turn, and past a limit are answered 503 with Retry-After.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import re

from fastapi import HTTPException, UploadFile
from PIL import Image

from fabricate.errors import InputError, TooLarge
from fabricate.image import PHOTO_FORMATS, Photo, load_photo
from fabricate.jobs.store import PhotoFile

CHUNK_BYTES = 1 << 20
#: What a request body may hold besides its photos: multipart headers and the option fields.
FORM_ALLOWANCE_BYTES = 64 * 1024
#: Requests decoding photos at once. One: eight parallel 40-megapixel outlines then peak at about
#: 1.1 GiB against 1.9 GiB with two, in the same time on 2 cores (benchmarks/web_outline_memory.py).
DECODE_SLOTS = 1
#: How long a request waits for its turn before it is answered 503 (eight 40-megapixel outlines take 11 s).
DECODE_WAIT_S = 30.0
#: Seconds a 503 asks the client to wait before trying again.
RETRY_AFTER_S = 2


def request_body_limit(photos: int, photo_limit_bytes: int) -> int:
    """The largest request body of a route taking up to ``photos`` photos of at most ``photo_limit_bytes``."""
    return photos * photo_limit_bytes + FORM_ALLOWANCE_BYTES


class PhotoDecodeSlots:
    """At most ``slots`` requests decode photos at once; one that waits ``wait_s`` for a slot gets 503."""

    def __init__(self, slots: int = DECODE_SLOTS, wait_s: float = DECODE_WAIT_S):
        self.semaphore = asyncio.Semaphore(slots)
        self.wait_s = wait_s

    @contextlib.asynccontextmanager
    async def hold(self):
        try:
            # wait_for with no time left gives up even on a free slot, so take a free one directly.
            if self.semaphore.locked():
                await asyncio.wait_for(self.semaphore.acquire(), self.wait_s)
            else:
                await self.semaphore.acquire()
        except TimeoutError:
            raise HTTPException(503, "the server is busy reading other photos; try again in a moment",
                                headers={"Retry-After": str(RETRY_AFTER_S)}) from None
        try:
            yield
        finally:
            self.semaphore.release()
            await asyncio.to_thread(return_freed_memory)


def return_freed_memory() -> None:
    """Give the memory of a finished decode back to the system: glibc keeps freed blocks in per-thread
    arenas, and the server kept over a gigabyte after eight large photos. Elsewhere: nothing to do."""
    malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if malloc_trim is not None:
        malloc_trim(0)


def display_name(upload: UploadFile) -> str:
    """A harmless name to show and record (never used as a path)."""
    return re.sub(r"[^\w.\- ]", "_", (upload.filename or "photo"))[-100:] or "photo"


async def decode_upload(upload: UploadFile, limit_bytes: int) -> tuple[PhotoFile, Photo]:
    """The upload as a :class:`PhotoFile` and decoded, or a typed InputError (the app answers with its HTTP status).

    The library decodes it (format, 64 px to 40 megapixels), so a bad photo is refused before
    a job exists. Call it holding a decode slot.
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
    photo = await asyncio.to_thread(load_photo, data, name)
    detected = Image.open(io.BytesIO(data)).format  # load_photo has refused every other format
    return PhotoFile(data, PHOTO_FORMATS[detected], name), photo


async def read_photo(upload: UploadFile, limit_bytes: int) -> PhotoFile:
    """The checked upload, to keep (its decoded pixels are let go at once). Call it holding a decode slot."""
    photo_file, _ = await decode_upload(upload, limit_bytes)
    return photo_file
