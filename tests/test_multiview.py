"""Several photos of one object: view labels, alignment, the carved solid and colour from every side.

Test views are rendered with fabricate.render from labelled azimuths, each framed on its
own (seeded random zoom and offset, like a handheld shot). ``orbit_camera`` turns the
other way from the labels (its azimuth 90 looks at the object's own right), hence ``-azimuth``.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fabricate.errors import BadOption, InconsistentViews
from fabricate.image import extract_foreground, load_photo
from fabricate.reconstruct.base import PhotoView
from fabricate.reconstruct.classical import ClassicalReconstructor
from fabricate.reconstruct.multiview import (DEFAULT_ROUNDING, reconstruct_multiview, rounding_strength,
                                            widest_view_gap)
from fabricate.reconstruct.views_align import parse_views
from fabricate.render import orbit_camera, render_mesh

LABELS = ("front", "left", "back", "right")
AZIMUTHS = (0.0, 90.0, 180.0, 270.0)


def box_with_cylinder():
    """A 1.0 x 0.8 box, 1.4 tall (y up), with a 0.6-wide upright cylinder on its +x side (its front)."""
    import trimesh

    box = trimesh.creation.box(extents=(1.0, 1.4, 0.8))
    cylinder = trimesh.creation.cylinder(radius=0.3, height=1.0, sections=96)
    cylinder.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    cylinder.apply_translation([0.5, -0.2, 0.0])
    solid = trimesh.boolean.union([box, cylinder], engine="manifold")
    return np.asarray(solid.vertices), np.asarray(solid.faces)


def handheld_view(vertices, faces, azimuth, rng, name, albedo=None, size=256) -> PhotoView:
    """A level photo from ``azimuth`` (label convention) with its own zoom and framing, lit from the camera."""
    camera = orbit_camera(vertices, -azimuth, 0.0, size, fill=rng.uniform(0.55, 0.85))
    shift = rng.uniform(-0.08, 0.08, 2) * size * camera.pixel_size
    camera.centre = camera.centre + shift[0] * camera.right + shift[1] * camera.up
    albedo = np.full((len(faces), 3), 170, np.uint8) if albedo is None else albedo
    render = render_mesh(vertices, faces, camera, albedo, -camera.forward, ambient=0.35)
    buffer = io.BytesIO()
    Image.fromarray(render.rgba()).save(buffer, format="PNG")
    return PhotoView(extract_foreground(load_photo(buffer.getvalue(), name)), azimuth, name)


@pytest.fixture(scope="module")
def box_views():
    vertices, faces = box_with_cylinder()
    rng = np.random.default_rng(11)
    return [handheld_view(vertices, faces, a, rng, f"box_{label}.png") for a, label in zip(AZIMUTHS, LABELS)]


@pytest.fixture(scope="module")
def box_model(box_views):
    return reconstruct_multiview(box_views, 256)


# --- view labels ------------------------------------------------------------------
def test_parse_views_labels_degrees_and_turntable():
    assert parse_views("front,left,back,right", 4) == [0.0, 90.0, 180.0, 270.0]
    assert parse_views(" Front , 45,-90 ", 3) == [0.0, 45.0, 270.0]
    assert parse_views(["back", 10, 20.5], 3) == [180.0, 10.0, 20.5]
    assert parse_views(None, 3) == [0.0, 120.0, 240.0]
    assert parse_views(None, 1) == [0.0]


@pytest.mark.parametrize("views, count, words", [
    ("front,left", 3, "2 views for 3 photos"),
    ("front,top", 2, "unknown view 'top'"),
    ("front,,left", 3, "unknown view ''"),
    ("front,nan", 2, "out of range"),
    ("front,inf", 2, "out of range"),
    ("front,400", 2, "out of range"),
    (["front", True], 2, "is not a view"),
    ("front,left,90", 3, "views 2 and 3 are the same view"),
    ("0,360.0000001", 2, "out of range"),
    ("10,370", 2, "out of range"),
])
def test_parse_views_refuses_hostile_input(views, count, words):
    with pytest.raises(BadOption) as caught:
        parse_views(views, count)
    message = str(caught.value)
    assert words in message and "\n" not in message


# --- the solid -------------------------------------------------------------------
def test_box_with_cylinder_rebuilt_within_three_percent(box_model):
    vertices, _ = box_model.volume.extract_surface()
    size = vertices.max(0) - vertices.min(0)
    # Voxel frame: x the front photo's right (mesh -z), y away from it (mesh -x), z up (mesh y).
    truth_vertices, _ = box_with_cylinder()
    truth = (truth_vertices.max(0) - truth_vertices.min(0))[[2, 0, 1]]
    ratio = (size / size[2]) / (truth / truth[2])
    assert np.all(np.abs(ratio - 1) < 0.03), ratio
    # ~resolution voxels across the largest extent, like one photo.
    assert 220 <= size.max() <= 256
    assert [fit["name"] for fit in box_model.view_fits] == [f"box_{label}.png" for label in LABELS]
    assert all(fit["iou"] > 0.95 for fit in box_model.view_fits)
    assert len(box_model.view_projections) == 4


def test_photos_out_of_order_give_the_same_model(box_views, box_model):
    shuffled = [box_views[i] for i in (2, 0, 3, 1)]
    again = reconstruct_multiview(shuffled, 256)
    assert np.array_equal(again.volume.block_coords, box_model.volume.block_coords)
    assert np.array_equal(again.volume.block_values, box_model.volume.block_values)
    assert np.array_equal(again.volume.coarse_sign, box_model.volume.coarse_sign)
    # Fits come back in the order given.
    assert [fit["name"] for fit in again.view_fits] == [box_views[i].name for i in (2, 0, 3, 1)]


def test_photo_of_another_object_is_refused_by_name(box_views):
    import trimesh

    other = trimesh.creation.cylinder(radius=0.08, height=1.4, sections=32)  # a pencil among photos of a box
    other.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    rng = np.random.default_rng(5)
    yellow = np.tile(np.array([[220, 190, 40]], np.uint8), (len(other.faces), 1))
    intruder = handheld_view(np.asarray(other.vertices), np.asarray(other.faces), 270.0, rng, "intruder.png", yellow)
    with pytest.raises(InconsistentViews) as caught:
        reconstruct_multiview(box_views[:3] + [intruder], 128)
    message = str(caught.value)
    assert message.startswith("intruder.png: its silhouette matches the solid the other photos make by only")
    assert "width" in message and "\n" not in message


def test_one_photo_is_exactly_the_single_photo_model(box_views):
    model = ClassicalReconstructor()
    one = model.reconstruct_views(box_views[:1], 128)
    single = model.reconstruct(box_views[0].foreground, 128)
    assert np.array_equal(one.volume.block_coords, single.volume.block_coords)
    assert np.array_equal(one.volume.block_values, single.volume.block_values)
    assert np.array_equal(one.photo_from_voxel, single.photo_from_voxel)
    assert one.view_projections is None and one.view_fits is None


def test_classical_model_takes_several_photos(box_views):
    model = ClassicalReconstructor()
    assert model.max_photos == 8
    several = model.reconstruct_views(box_views, 128)
    assert several.view_fits is not None
    with pytest.raises(BadOption):
        model.reconstruct_views(box_views, 100)
    with pytest.raises(BadOption):
        model.reconstruct_views(box_views * 3, 128)


def test_photo_from_voxel_maps_the_model_into_the_first_photo(box_views, box_model):
    """The surface projects onto the first photo's silhouette (as evaluation aligns it)."""
    vertices, _ = box_model.volume.extract_surface()
    first = box_views[0].foreground
    pixel = vertices @ box_model.photo_from_voxel[:3, :3].T + box_model.photo_from_voxel[:3, 3]
    col = np.round(pixel[:, 0]).astype(int) - first.offset[1]
    row = np.round(pixel[:, 1]).astype(int) - first.offset[0]
    inside = (row >= 0) & (row < first.mask.shape[0]) & (col >= 0) & (col < first.mask.shape[1])
    assert inside.all()
    from scipy import ndimage

    near = ndimage.binary_dilation(first.mask, iterations=3)
    assert near[row, col].mean() > 0.99


def test_rounding_fades_where_the_views_carve_the_corners_themselves():
    """Full rounding at right angles (2-4 views), much less with the diagonals (8 views), none for the hull."""
    four, eight = (0, 90, 180, 270), (0, 90, 180, 270, 45, 135, 225, 315)
    assert widest_view_gap(four) == 90 and widest_view_gap(eight) == 45
    assert widest_view_gap((0, 90)) == widest_view_gap((0, 90, 180)) == 90  # opposite views carve one outline
    assert widest_view_gap((0, 180)) == 180
    assert rounding_strength((0, 90)) == rounding_strength((0, 90, 180)) == rounding_strength(four) == DEFAULT_ROUNDING
    assert rounding_strength(eight) == pytest.approx(0.2 * DEFAULT_ROUNDING, abs=0.01)
    turntable = rounding_strength((0, 120, 240))  # 60-degree gaps: a hexagonal hull
    assert rounding_strength(eight) < turntable < DEFAULT_ROUNDING
    assert rounding_strength(four, 0.0) == 0.0
    # Same views in any order, any labels modulo a turn.
    assert rounding_strength((315, 45, 0, 270, 90, 225, 135, 180)) == rounding_strength(eight)
    assert rounding_strength((360 - 1e-9, 90)) == pytest.approx(rounding_strength((0, 90)))


def test_rounded_surface_is_closed_without_repair():
    """The rounded SDF stays about 1-Lipschitz, so block culling misses no surface and marching
    cubes gives a closed mesh (these photos once left 316 open edges at chunk seams)."""
    from fabricate.mesh.coloured_mesh import ColouredMesh
    from fabricate.mesh.validate import validate_mesh

    vertices, faces = box_with_cylinder()
    rng = np.random.default_rng(2)
    views = [handheld_view(vertices, faces, a, rng, f"{a:g}.png") for a in AZIMUTHS]
    surface, triangles = reconstruct_multiview(views, 256).volume.extract_surface()
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    _, uses = np.unique(edges, axis=0, return_counts=True)
    assert np.all(uses == 2)
    assert validate_mesh(ColouredMesh(surface, triangles), check_self_intersections=False).ok


# --- colour from every side ---------------------------------------------------------
def test_back_of_the_model_shows_the_back_photo():
    import trimesh

    from fabricate.color.views import colour_from_views
    from fabricate.mesh.coloured_mesh import ColouredMesh

    box = trimesh.creation.box(extents=(1.0, 1.2, 0.7))
    vertices, faces = np.asarray(box.vertices), np.asarray(box.faces)
    normals = box.face_normals
    # Mesh +x is the front (orbit_camera's azimuth 0 looks from +x), -x the back,
    # -z the object's own left, +z its right; top and bottom grey.
    side_colours = {"front": (220, 30, 30), "back": (30, 200, 40), "left": (40, 60, 220), "right": (230, 210, 30)}
    mesh_normals = {"front": (1, 0, 0), "back": (-1, 0, 0), "left": (0, 0, -1), "right": (0, 0, 1)}
    albedo = np.full((len(faces), 3), 128, np.uint8)
    for side, normal in mesh_normals.items():
        albedo[normals @ np.array(normal, float) > 0.9] = side_colours[side]
    rng = np.random.default_rng(3)
    views = [handheld_view(vertices, faces, a, rng, f"{label}.png", albedo) for a, label in zip(AZIMUTHS, LABELS)]
    model = reconstruct_multiview(views, 128)
    surface, triangles = model.volume.extract_surface()
    coloured = colour_from_views(ColouredMesh(surface, triangles), model.view_projections)
    assert coloured.vertex_colours.shape == (len(surface), 3) and coloured.face_colours.shape == (len(triangles), 3)
    # Voxel frame: x the front photo's right (the object's own left), y away from it (the back).
    centre = (surface.max(0) + surface.min(0)) / 2
    half = (surface.max(0) - surface.min(0)) / 2
    voxel_sides = {"left": (0, 1), "right": (0, -1), "back": (1, 1), "front": (1, -1)}
    for side, (axis, sign) in voxel_sides.items():
        # Vertices on the middle of that face, away from its edges.
        offset = (surface - centre) / half
        others = [a for a in range(3) if a != axis]
        on_face = (sign * offset[:, axis] > 0.98) & np.all(np.abs(offset[:, others]) < 0.6, axis=1)
        assert on_face.sum() > 20, side
        mean = coloured.vertex_colours[on_face].astype(float).mean(0)
        distances = {name: np.linalg.norm(mean - np.array(c)) for name, c in side_colours.items()}
        assert min(distances, key=distances.get) == side, (side, mean)
        assert distances[side] < 25, (side, mean)
