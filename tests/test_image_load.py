import io

import numpy as np
import pytest
from PIL import Image

from fabricate.errors import InputError
from fabricate.image import load_photo

from conftest import SAMPLES


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def test_samples_load_as_rgb_with_alpha_where_present():
    for path in SAMPLES:
        photo = load_photo(path)
        assert photo.rgb.dtype == np.uint8 and photo.rgb.shape[2] == 3
        assert photo.name == path.name


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16"])
def test_png_modes(mode):
    base = Image.new("RGB", (80, 70), (200, 40, 10))
    if mode == "I;16":
        image = Image.fromarray(np.full((70, 80), 40000, np.uint16))
    elif mode == "P":
        image = base.convert("P")
        image.info["transparency"] = 0
    else:
        image = base.convert(mode)
    photo = load_photo(encode(image, "PNG"), name="x.png")
    assert photo.rgb.shape == (70, 80, 3)
    if mode == "I;16":
        assert 150 <= photo.rgb[0, 0, 0] <= 160  # 40000 / 65535 * 255 = 155.7
    assert (photo.alpha is not None) == (mode in ("RGBA", "LA", "P"))


def test_jpeg_and_webp():
    image = Image.new("RGB", (96, 64), (10, 120, 200))
    for fmt in ("JPEG", "WEBP"):
        photo = load_photo(encode(image, fmt), name="x")
        assert photo.rgb.shape == (64, 96, 3)
        assert abs(int(photo.rgb[30, 30, 2]) - 200) < 8


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (120, 80), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 60, 80))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    photo = load_photo(encode(image, "JPEG", exif=exif), name="x.jpg")
    assert photo.rgb.shape[:2] == (120, 80)  # now portrait
    assert photo.rgb[5, 40].mean() > 200 and photo.rgb[-5, 40].mean() < 50  # white on top


def test_not_an_image():
    with pytest.raises(InputError, match="not an image"):
        load_photo(b"hello, this is text", name="notes.png")


def test_truncated_file():
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)), "PNG")
    with pytest.raises(InputError, match="truncated"):
        load_photo(data[: len(data) // 2], name="cut.png")


def test_too_many_pixels_is_refused_before_decoding():
    data = encode(Image.new("L", (8000, 5100)), "PNG")  # 40.8 MP, a few kB: a decompression bomb
    assert len(data) < 200_000
    with pytest.raises(InputError, match="megapixels"):
        load_photo(data, name="bomb.png")


def test_too_small():
    with pytest.raises(InputError, match="at least 64"):
        load_photo(encode(Image.new("RGB", (63, 200)), "PNG"), name="tiny.png")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_photo(tmp_path / "nope.png")
