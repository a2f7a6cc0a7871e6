import io

import numpy as np
import pytest
from PIL import Image

from fabricate.errors import InputError
from fabricate.image import MAX_PIXELS, load_photo

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


def phone_jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    """A large, cheap-to-encode JPEG (smooth gradient) like a phone's, optionally EXIF-rotated."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack(np.broadcast_arrays(x, y, (x + y) / 2), axis=2).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=70, exif=exif.tobytes())
    return buffer.getvalue()


def test_a_48_megapixel_jpeg_is_decoded_reduced_not_refused():
    photo = load_photo(phone_jpeg(8000, 6000), name="phone.jpg")  # 48 MP
    assert photo.size == (4000, 3000)  # libjpeg's 1/2 decode: at most MAX_PIXELS in memory
    assert photo.size[0] * photo.size[1] <= MAX_PIXELS
    assert photo.scaled_from == (8000, 6000)
    assert "phone.jpg (8000x6000, 48 megapixels) was scaled to 4000x3000" in photo.scaling_note
    # The reduced decode is the photo, not a crop: the gradient spans the whole width.
    assert photo.rgb[0, 0, 0] < 10 and photo.rgb[0, -1, 0] > 245


def test_a_rotated_phone_jpeg_reports_its_size_in_its_own_orientation():
    photo = load_photo(phone_jpeg(8000, 6000, orientation=6), name="portrait.jpg")  # 90 degrees
    assert photo.size == (3000, 4000)
    assert photo.scaled_from == (6000, 8000)


def test_small_photos_are_not_scaled():
    photo = load_photo(phone_jpeg(640, 480), name="small.jpg")
    assert photo.size == (640, 480) and photo.scaled_from is None and photo.scaling_note is None


def test_a_jpeg_beyond_the_eighth_decode_is_refused_before_decoding():
    # The header alone declares 65000 x 65000 (4.2 gigapixels): a bomb even at 1/8.
    header = bytearray(phone_jpeg(64, 64))
    sof = header.index(b"\xff\xc0")
    header[sof + 5:sof + 9] = (65000).to_bytes(2, "big") * 2
    with pytest.raises(InputError, match="megapixels"):
        load_photo(bytes(header), name="bomb.jpg")
