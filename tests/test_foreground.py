import numpy as np
import pytest
from PIL import Image, ImageDraw

from fabricate.errors import InputError
from fabricate.image import extract_foreground, load_photo
from fabricate.image.load import Photo

from conftest import SAMPLES


def disc_photo(background=(255, 255, 255), colour=(200, 60, 30), size=300, radius=90):
    image = Image.new("RGB", (size, size), background)
    ImageDraw.Draw(image).ellipse((150 - radius, 150 - radius, 150 + radius, 150 + radius), fill=colour)
    truth = np.zeros((size, size), bool)
    yy, xx = np.mgrid[:size, :size]
    truth[(xx - 150) ** 2 + (yy - 150) ** 2 <= radius ** 2] = True
    return Photo(np.asarray(image).copy(), None, "disc.png"), truth


@pytest.mark.parametrize("background", [(255, 255, 255), (40, 90, 200), (128, 128, 128)])
def test_segments_object_on_plain_background(background):
    photo, truth = disc_photo(background)
    fg = extract_foreground(photo)
    assert fg.source == "segmentation"
    area = fg.mask.sum()
    assert abs(area - truth.sum()) / truth.sum() < 0.05


def test_alpha_is_used_when_meaningful():
    photo = load_photo(SAMPLES[0])
    fg = extract_foreground(photo)
    assert fg.source == "alpha"
    assert fg.mask.any() and not fg.mask.all()


def test_largest_object_kept_and_small_holes_filled():
    image = Image.new("RGB", (300, 300), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((50, 50, 200, 200), fill=(20, 20, 20))
    draw.rectangle((240, 240, 260, 260), fill=(20, 20, 20))  # a second, smaller object
    draw.rectangle((120, 120, 123, 123), fill=(255, 255, 255))  # a speck of glare
    fg = extract_foreground(Photo(np.asarray(image).copy(), None, "two.png"))
    labels = __import__("scipy.ndimage", fromlist=["label"]).label(fg.mask)[1]
    assert labels == 1
    assert abs(fg.mask.sum() - 151 * 151) / (151 * 151) < 0.05


def test_large_hole_is_kept():
    image = Image.new("RGB", (300, 300), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 260, 260), fill=(30, 30, 160))
    draw.ellipse((110, 110, 190, 190), fill=(255, 255, 255))  # a ring: the hole is real
    fg = extract_foreground(Photo(np.asarray(image).copy(), None, "ring.png"))
    h, w = fg.mask.shape
    assert not fg.mask[h // 2, w // 2]


def test_no_object():
    photo = Photo(np.full((200, 200, 3), 240, np.uint8), None, "blank.png")
    with pytest.raises(InputError, match="no object"):
        extract_foreground(photo)


def test_object_touching_every_border():
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (200, 200, 3), np.uint8)
    photo = Photo(texture, np.ones((200, 200), np.float32), "wall.png")
    photo.alpha[80:120, 80:120] = 0.0  # transparent centre: the object is everything around it
    with pytest.raises(InputError, match="every border"):
        extract_foreground(photo)
