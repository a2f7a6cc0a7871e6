"""Hostile numbers, names and paths given to `fabricate make`: refused with exit 2 and one line, nothing written."""
import io
import math
import os

import pytest
from click.testing import CliRunner
from PIL import Image

from fabricate.cli import main
from fabricate.errors import BadOption, FabricateError
from fabricate.options import MakeOptions, all_option_fields

from conftest import SAMPLES, read_3mf_with_lib3mf

NUMERIC = [f for f in all_option_fields() if f.kind in (int, float)]
HOSTILE = ["inf", "-inf", "nan", "1e400", "-1e400", "-0", "-1", "0", "1e300", "99999999999999999999", "abc", "1,5",
           "0x10", ""]


def make(*args):
    result = CliRunner().invoke(main, ["make", *map(str, args)])
    return result.exit_code, result.stderr.strip()


def accepted(field, text: str) -> bool:
    """Whether the library takes this value for the field (a valid zero, say), so the CLI would build."""
    try:
        value = field.kind(float(text)) if field.kind is int else float(text)
    except (ValueError, OverflowError):
        return False
    try:
        MakeOptions.from_flat({"printer": "bambu-a1", field.name: value}).validate()
    except FabricateError:
        return False
    return True


@pytest.mark.parametrize("field", NUMERIC, ids=[f.name for f in NUMERIC])
def test_every_numeric_option_refuses_hostile_numbers(field, tmp_path):
    out = tmp_path / "x.3mf"
    for text in HOSTILE:
        if accepted(field, text):
            continue  # a valid value (e.g. 0 % infill): building it is the normal path, tested elsewhere
        code, stderr = make(SAMPLES[0], "-p", "bambu-a1", "-o", out, field.flag, text)
        assert code == 2, (field.name, text, stderr)
        assert len(stderr.splitlines()) == 1, (field.name, text, stderr)
        named = field.flag in stderr or field.name.replace("_", " ") in stderr
        assert named, (field.name, text, stderr)
        assert not any(tmp_path.iterdir()), (field.name, text)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e400, -1.0])
def test_the_library_refuses_non_finite_and_negative_numbers(value):
    for field in NUMERIC:
        if value == -1.0 and field.spec.minimum is None:
            continue
        with pytest.raises(BadOption):
            MakeOptions.from_flat({"printer": "bambu-a1", field.name: value}).validate()


def test_a_size_the_nozzle_cannot_print_is_refused_with_the_minimum(tmp_path):
    code, stderr = make(SAMPLES[0], "-p", "bambu-a1", "-o", tmp_path / "x.3mf", "--height-mm", "0.001")
    assert code == 2 and "0.8 mm" in stderr and "nozzle" in stderr, stderr
    assert not any(tmp_path.iterdir())


def test_a_title_with_control_characters_is_refused(tmp_path):
    code, stderr = make(SAMPLES[0], "-p", "bambu-a1", "-o", tmp_path / "x.3mf", "--title", "tab\there")
    assert code == 2 and "control characters" in stderr, stderr


def test_an_output_that_is_an_input_is_refused(tmp_path):
    photo = tmp_path / "photo.3mf"  # a photo named like a model
    photo.write_bytes(SAMPLES[0].read_bytes())
    link = tmp_path / "link.3mf"
    link.symlink_to(photo)
    for output in (photo, link):
        code, stderr = make(photo, "-p", "bambu-a1", "-o", output)
        assert code == 2 and "input photo" in stderr, stderr
    assert photo.read_bytes() == SAMPLES[0].read_bytes()


def test_an_unwritable_output_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, stderr = make(SAMPLES[0], "-p", "bambu-a1", "-o", blocker / "x.3mf")
    assert code == 2 and "is a file, not a folder" in stderr, stderr
    if os.geteuid() != 0:  # root writes anywhere: the permission case means something only for users
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        code, stderr = make(SAMPLES[0], "-p", "bambu-a1", "-o", locked / "x.3mf")
        assert code == 2 and "not writable" in stderr, stderr


@pytest.mark.parametrize("kind", ["GIF", "TIFF", "BMP"])
def test_one_photo_format_rule_for_the_cli_too(kind, tmp_path):
    photo = tmp_path / f"photo.{kind.lower()}"
    Image.open(SAMPLES[0]).convert("RGB").save(photo, format=kind)
    code, stderr = make(photo, "-p", "bambu-a1", "-o", tmp_path / "x.3mf")
    assert code == 2 and f"{kind} photos are not supported" in stderr, stderr


@pytest.mark.slow
def test_a_photo_name_with_control_characters_still_makes_valid_xml(tmp_path):
    from lxml import etree
    import zipfile

    photo = tmp_path / "bad\x01name\t.png"
    photo.write_bytes(SAMPLES[0].read_bytes())
    out = tmp_path / "x.3mf"
    code, stderr = make(photo, "-p", "bambu-x1c", "-o", out, "--resolution", "128")
    assert code == 0, stderr
    with zipfile.ZipFile(out) as package:
        for name in package.namelist():
            if name.endswith((".model", ".rels", ".xml")) or name.endswith("model_settings.config"):
                etree.fromstring(package.read(name))  # raises on invalid XML
    read_3mf_with_lib3mf(out)
