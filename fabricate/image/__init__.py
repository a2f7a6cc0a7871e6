"""Stage 1: load a photo, find the object, crop it."""
from fabricate.image.foreground import Foreground, extract_foreground
from fabricate.image.load import MAX_PIXELS, MIN_SIDE, PHOTO_FORMATS, Photo, load_photo

__all__ = ["Photo", "load_photo", "Foreground", "extract_foreground", "MAX_PIXELS", "MIN_SIDE", "PHOTO_FORMATS"]
