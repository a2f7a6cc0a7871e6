"""`--colors auto`: the number of filaments from the object's own distinct colours."""
import io

import numpy as np
import pytest
import trimesh
from PIL import Image

from fabricate.color.palette import AUTO_COUNT, assign_filaments
from fabricate.errors import BadOption
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.options import MakeOptions, all_option_fields
from fabricate.schema import check_value

from conftest import SHARED, run_cli

PAINTS = np.array([[200, 40, 30], [240, 230, 220], [30, 60, 170], [230, 190, 40]], np.uint8)
#: A printer loading more filaments than the test object has paints, so four is the object's count, not the cap.
FIVE_SLOTS = "prusa-xl-5t"


def banded_sphere(paints: np.ndarray, shading=(1.0, 1.0), seed: int = 0) -> ColouredMesh:
    """An icosphere in equal bands of ``paints`` along z, each face darkened by a random factor in ``shading``."""
    sphere = trimesh.creation.icosphere(4)
    height = sphere.triangles_center[:, 2]
    band = np.minimum(((height + 1) / 2 * len(paints)).astype(int), len(paints) - 1)
    factor = np.random.default_rng(seed).uniform(*shading, len(band))[:, None]
    colours = np.clip(paints[band] * factor, 0, 255).astype(np.uint8)
    return ColouredMesh(sphere.vertices, sphere.faces, face_colours=colours)


def test_one_paint_with_shading_left_in_it_is_one_filament():
    mesh = banded_sphere(PAINTS[:1], shading=(0.6, 1.0))  # up to 1.7 x darker in places
    assert assign_filaments(mesh, 5, auto=True).count == 1


@pytest.mark.parametrize("paints", [2, 3, 4])
def test_each_distinct_paint_gets_a_filament(paints):
    mesh = banded_sphere(PAINTS[:paints], shading=(0.8, 1.0))
    result = assign_filaments(mesh, 5, auto=True)
    assert result.count == paints
    assert assign_filaments(mesh, 2, auto=True).count == min(paints, 2)  # never more than the printer loads


def test_white_and_mid_grey_are_two_paints_but_a_speck_is_none():
    white_grey = banded_sphere(np.array([[235, 235, 235], [120, 120, 120]], np.uint8))
    assert assign_filaments(white_grey, 5, auto=True).count == 2
    speck = banded_sphere(PAINTS[:1])
    speck.face_colours[:8] = PAINTS[2]  # 8 of 5,120 triangles
    assert assign_filaments(speck, 5, auto=True).count == 1


def test_colors_takes_auto_or_a_whole_number_everywhere():
    field = next(f for f in all_option_fields() if f.name == "colors")
    assert field.default == AUTO_COUNT
    assert check_value(field, "auto") == "auto" and check_value(field, 3) == 3
    for bad, message in (("many", "whole number or auto"), (0, "at least 1"), (2.5, "whole number"), (17, "at most")):
        with pytest.raises(BadOption, match=message):
            check_value(field, bad)
    # Forced N is still N; auto plans for what the printer loads and decides on the mesh.
    assert len(MakeOptions(printer="bambu-a1", colors=2).validate().settings.filaments) == 2
    assert len(MakeOptions(printer="bambu-a1").validate().settings.filaments) == 4
    assert len(MakeOptions(printer="prusa-mini-plus").validate().settings.filaments) == 1
    # The CLI and the web form read the same two kinds of value.
    from fabricate.cli import make
    from web.forms import JobForm

    param = next(p for p in make.params if p.name == "colors")
    assert param.type.convert("auto", param, None) == "auto" and param.type.convert("3", param, None) == 3
    assert JobForm.model_validate({"photo": [], "printer": "bambu-a1", "colors": "3"}).colors == 3
    assert JobForm.model_validate({"photo": [], "printer": "bambu-a1"}).colors == "auto"
    schema = JobForm.model_json_schema()["properties"]["colors"]
    assert {"type": "integer"} in schema["anyOf"] and any(s.get("const") == "auto" for s in schema["anyOf"])
    result = run_cli("make", "missing.png", "--printer", "bambu-a1", "-o", "x.3mf", "--colors", "lots")
    assert result.returncode == 2 and "neither a whole number nor auto" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def strongly_lit_photo(paints: np.ndarray, mesh_name: str = "spot") -> bytes:
    """A held-out mesh in bands of ``paints`` under a strong side light with a highlight (the colour score's light)."""
    from fabricate.evaluate.colour import strong_light
    from fabricate.evaluate.run import load_mesh
    from fabricate.render import orbit_camera, render_mesh

    vertices, faces = load_mesh(SHARED / "meshes" / "heldout" / f"{mesh_name}.obj")
    height = vertices[faces].mean(axis=1)[:, 1]
    cuts = np.quantile(height, np.linspace(0, 1, len(paints) + 1)[1:-1])
    camera = orbit_camera(vertices, 30, 15, 384)
    render = render_mesh(vertices, faces, camera, paints[np.searchsorted(cuts, height)],
                         **strong_light(camera, np.random.default_rng(3)))
    buffer = io.BytesIO()
    Image.fromarray(render.rgba()).save(buffer, format="PNG")
    return buffer.getvalue()


HELDOUT_NAMES = ["cow", "stanford-bunny", "spot", "teapot"]
#: Measured misses (held-out, 5 slots): spot's four paints come back as five (a shaded second copy of
#: one paint, or a blend of two where the hidden side was filled in). Teapot's did too until the
#: compiled extraction (issue 21's fifth pass) changed its surface in a few ambiguous cells; since,
#: it gets four.
FOUR_PAINT_MISSES = {"spot": "four paints counted as five"}


def filament_count_under_a_strong_side_light(mesh_name: str, paints: np.ndarray) -> int:
    from fabricate.pipeline import make_model

    if not (SHARED / "meshes" / "heldout" / f"{mesh_name}.obj").exists():
        pytest.skip("the held-out meshes are in ../shared/meshes/heldout")
    options = MakeOptions(printer=FIVE_SLOTS, resolution=128, delight="auto")
    result = make_model([strongly_lit_photo(paints, mesh_name)], options, photo_names=[f"{mesh_name}.png"])
    assert len(result.settings.filaments) == result.filaments.count
    return result.filaments.count


@pytest.mark.slow
@pytest.mark.parametrize("mesh_name", HELDOUT_NAMES)
def test_a_uniform_object_under_a_strong_side_light_gets_one_filament(mesh_name):
    assert filament_count_under_a_strong_side_light(mesh_name, np.array([[180, 120, 60]], np.uint8)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("mesh_name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=FOUR_PAINT_MISSES[name]))
    if name in FOUR_PAINT_MISSES else name for name in HELDOUT_NAMES])
def test_a_four_colour_object_under_a_strong_side_light_gets_four_filaments(mesh_name):
    assert filament_count_under_a_strong_side_light(mesh_name, PAINTS) == 4
