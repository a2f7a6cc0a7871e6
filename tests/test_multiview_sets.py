"""Real photo sets of one object (../shared/photos/multiview) and a set rendered from a training mesh
each make a valid colour 3MF; the picture of them (photos beside the model, front and side) goes to
tests/artifacts/multiview_sets.png (the README's copy is web/static/examples/multiview.png).

View labels of the shared sets were read by looking at the photos (a face pointing to the image's
left is the object's own left side): character_2 front, character_1 front-right (315), character_3
back-left (135); mushroom_1 front-left (45), mushroom_2 back, mushroom_3 front-right (315);
rabbit_2 front, rabbit_3 left, rabbit_1 right; tiger_2 front, tiger_1 left, tiger_3 back.
"""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fabricate.pipeline import MakeOptions, make_model, write_outputs
from fabricate.render import render_preview

from conftest import SHARED, assert_printable_3mf

pytestmark = pytest.mark.slow

MULTIVIEW = SHARED / "photos" / "multiview"
TRAIN = SHARED / "meshes" / "train"
#: Each shared set: (file numbers in the order given, their views).
SETS = {
    "character": ((2, 1, 3), "front,315,135"),
    "mushroom": ((1, 2, 3), "45,back,315"),
    "rabbit": ((2, 3, 1), "front,left,right"),
    "tiger": ((2, 1, 3), "front,left,back"),
}
PRINTER = "bambu-x1c"
TILE = 220


def photo_sets(tmp_path) -> dict:
    """Every set as (photo paths, views): the shared ones and four views rendered from a training mesh."""
    from fabricate.evaluate.multiview import render_view_sets

    sets = {name: ([MULTIVIEW / f"{name}_{n}.png" for n in numbers], views)
            for name, (numbers, views) in SETS.items()}
    mesh = TRAIN / "cheburashka.obj"
    folder = tmp_path / "mesh"
    folder.mkdir()
    (folder / mesh.name).symlink_to(mesh)
    rendered = render_view_sets(folder, count=4)[0]
    paths = []
    for photo, azimuth in zip(rendered.photos, rendered.azimuths):
        paths.append(tmp_path / f"cheburashka_{azimuth:g}.png")
        paths[-1].write_bytes(photo)
    # The mesh's face looks towards the render at 270 degrees: that photo is its front, the others follow.
    sets["cheburashka (rendered)"] = (paths[3:] + paths[:3], "front,left,back,right")
    return sets


def tile(image: Image.Image) -> Image.Image:
    flat = Image.new("RGB", image.size, (245, 245, 245))
    flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").split()[3])
    flat.thumbnail((TILE, TILE))
    out = Image.new("RGB", (TILE, TILE), (245, 245, 245))
    out.paste(flat, ((TILE - flat.width) // 2, (TILE - flat.height) // 2))
    return out


def test_photo_sets_make_valid_colour_3mf(tmp_path, artifacts):
    rows = []
    for name, (paths, views) in photo_sets(tmp_path).items():
        result = make_model(paths, MakeOptions(printer=PRINTER, resolution=256, views=views, colors=1))
        out = tmp_path / f"{name.split()[0]}.3mf"
        write_outputs(result, out, report_json=False)
        assert_printable_3mf(out, PRINTER, min_colours=16)  # the photos' colours, not one filament's
        assert len(result.view_fits) == len(paths)
        assert min(f["iou"] for f in result.view_fits) > 0.8, (name, result.view_fits)
        mesh = result.mesh
        # The front photo looked along +y of the model; the placement turned it by rotation_z_deg.
        turn = result.fit.rotation_z_deg
        front = render_preview(mesh.vertices, mesh.faces, mesh.face_colours, TILE, azimuth_deg=180 + turn,
                               elevation_deg=10)
        side = render_preview(mesh.vertices, mesh.faces, mesh.face_colours, TILE, azimuth_deg=90 + turn,
                              elevation_deg=10)
        photos = [tile(Image.open(p)) for p in paths[:4]]
        photos += [Image.new("RGB", (TILE, TILE), (245, 245, 245))] * (4 - len(photos))
        rows.append(photos + [front, side])
    sheet = Image.new("RGB", (6 * TILE, len(rows) * TILE), (245, 245, 245))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(image, (c * TILE, r * TILE))
    sheet.save(artifacts / "multiview_sets.png")
    assert np.asarray(sheet).std() > 10
