"""Delighting: the object's own colours from photos, the hidden side from the rim, the colour score."""
import numpy as np
import pytest
import trimesh

from fabricate.color.delight import delight_samples, sh_basis
from fabricate.color.fill import fill_from_known
from fabricate.color.lab import linear_to_srgb, srgb_to_lab, srgb_to_linear
from fabricate.color.views import SinglePhotoView, colour_from_views, robust_vertex_means, vertex_normals
from fabricate.mesh.coloured_mesh import ColouredMesh

RED, BLUE = np.array([0.6, 0.08, 0.06]), np.array([0.08, 0.15, 0.55])  # linear albedos


def lit_sphere(light=(0.8, -0.5, 0.4), ambient=0.15, specular=0.0):
    """A unit sphere painted red above z = 0.2 and blue below, photographed along +y under ``light``."""
    sphere = trimesh.creation.icosphere(4)
    normals = np.asarray(sphere.vertex_normals)
    albedo = np.where((normals[:, 2] > 0.2)[:, None], RED, BLUE)
    light = np.array(light) / np.linalg.norm(light)
    shading = ambient + (1 - ambient) * np.clip(normals @ light, 0, 1)
    colour = albedo * shading[:, None]
    if specular:
        halfway = light + np.array([0.0, -1.0, 0.0])
        halfway /= np.linalg.norm(halfway)
        colour = colour + specular * np.clip(normals @ halfway, 0, 1)[:, None] ** 60
    seen = normals @ np.array([0.0, -1.0, 0.0]) > 0.1
    return sphere, normals, albedo, np.clip(colour, 0, 1), seen, shading


def lab_error(a, b):
    return float(np.linalg.norm(srgb_to_lab(linear_to_srgb(a)) - srgb_to_lab(linear_to_srgb(b)), axis=1).mean())


def test_sh_basis_spans_a_clamped_cosine_light_closely():
    normals = np.asarray(trimesh.creation.icosphere(3).vertex_normals)
    target = 0.2 + 0.8 * np.clip(normals @ np.array([0.0, 0.6, 0.8]), 0, 1)
    basis = sh_basis(normals)
    fit = basis @ np.linalg.lstsq(basis, target, rcond=None)[0]
    assert np.abs(fit - target).max() < 0.12  # second order: ~99 % of a Lambertian light's energy


def test_delighting_a_side_lit_sphere_recovers_its_two_paints():
    _, normals, albedo, colour, seen, shading = lit_sphere()
    delit = delight_samples(normals[seen], colour[seen], normals[seen] @ np.array([0.0, -1.0, 0.0]))
    before, after = lab_error(colour[seen], albedo[seen]), lab_error(delit.albedo, albedo[seen])
    assert after < 0.4 * before, (before, after)
    # What is left no longer follows the light.
    brightness = delit.albedo.mean(axis=1) / albedo[seen].mean(axis=1)
    assert abs(np.corrcoef(brightness, shading[seen])[0, 1]) < 0.6  # the photo's own: ~1
    assert not delit.highlight.any()


def test_a_specular_highlight_is_found_and_not_taken_for_paint():
    _, normals, albedo, colour, seen, _ = lit_sphere(specular=0.6)
    delit = delight_samples(normals[seen], colour[seen], np.ones(int(seen.sum())))
    whitish = (colour[seen] - albedo[seen] * 1.0).min(axis=1) > 0.15
    assert whitish.any() and delit.highlight[whitish].mean() > 0.8
    assert delit.highlight.mean() < 0.1  # only the highlight


def test_fill_spreads_the_border_inward_and_reaches_parts_nobody_saw():
    sphere = trimesh.creation.icosphere(3)
    apart = trimesh.creation.icosphere(1)
    apart.vertices += [5.0, 0, 0]
    both = trimesh.util.concatenate([sphere, apart])
    vertices, faces = np.asarray(both.vertices), np.asarray(both.faces)
    values = np.zeros((len(vertices), 1))
    known = np.zeros(len(vertices), bool)
    ring = np.abs(vertices[:, 2]) < 0.15
    ring[len(sphere.vertices):] = False
    values[ring] = 1.0
    known[ring] = True
    known[: len(sphere.vertices)] |= vertices[: len(sphere.vertices), 2] < -0.9
    filled = fill_from_known(vertices, faces, values, known)
    top = vertices[:, 2] > 0.9
    top[len(sphere.vertices):] = False
    assert np.allclose(filled[top], 1.0)  # only the ring borders the top cap: it is all ring colour
    assert np.allclose(filled[len(sphere.vertices):], filled[known][0]) or \
        np.isin(filled[len(sphere.vertices):], filled[known]).all()  # the far part: a known colour


def test_robust_means_leave_out_a_sample_far_from_the_median():
    vertex = np.array([0, 0, 0, 1])
    values = np.array([[0.5] * 3, [0.52] * 3, [1.0] * 3, [0.2] * 3])
    means, has = robust_vertex_means(vertex, values, np.ones(4), 3)
    assert has.tolist() == [True, True, False]
    assert means[0] == pytest.approx([0.51] * 3)
    assert means[1] == pytest.approx([0.2] * 3)


def test_one_photo_the_hidden_side_takes_the_rim_colour_not_a_mirror_of_the_face():
    sphere = trimesh.creation.icosphere(4)
    vertices = np.asarray(sphere.vertices) * 20 + 40  # voxel-sized, away from the origin
    faces = np.asarray(sphere.faces)
    centre = vertices.mean(axis=0)

    def photo(points):  # a red "face" in the middle of the photo, blue hair all round it
        radius = np.hypot(points[:, 0] - centre[0], points[:, 2] - centre[2])
        return np.where((radius < 10)[:, None], [220, 40, 40], [40, 60, 200]).astype(np.uint8)

    view = SinglePhotoView(np.array([0.0, 1.0, 0.0]), photo)
    for delight in (False, True):
        coloured = colour_from_views(ColouredMesh(vertices, faces), [view], delight=delight)
        back = (vertices[:, 1] - centre[1]) > 15
        front = (vertices[:, 1] - centre[1]) < -18  # within the face's radius of the axis
        assert coloured.vertex_colours[front, 0].mean() > 150  # the face is on the front
        back_colour = coloured.vertex_colours[back].astype(float)
        assert (back_colour[:, 2] > back_colour[:, 0]).all(), "a red face on the back"


def test_several_photos_of_a_box_delit_keep_each_side_its_own_colour():
    """A two-colour box seen from four sides under one object-fixed light: each side keeps its paint."""
    box = trimesh.creation.box(extents=(30.0, 36.0, 21.0))
    vertices = np.asarray(box.vertices) + 40
    faces = np.asarray(box.faces)
    box = trimesh.Trimesh(vertices, faces).subdivide().subdivide().subdivide()
    vertices, faces = np.asarray(box.vertices), np.asarray(box.faces)
    normals = vertex_normals(vertices, faces)
    paint = np.where((normals[:, 1] < -0.9)[:, None], [0.6, 0.05, 0.05], [0.05, 0.4, 0.05])
    light = np.array([0.5, -0.7, 0.5]) / np.linalg.norm([0.5, -0.7, 0.5])
    shaded = paint * (0.15 + 0.85 * np.clip(normals @ light, 0, 1))[:, None]

    class View:
        def __init__(self, direction):
            self.direction = np.array(direction, float)

        def sample(self, points):  # the box's vertices are the only points coloured
            index = np.argmin(((points[:, None] - vertices[None]) ** 2).sum(-1), axis=1)
            return linear_to_srgb(shaded[index])

    views = [View(d) for d in ([0, 1, 0], [1, 0, 0], [0, -1, 0], [-1, 0, 0])]
    coloured = colour_from_views(ColouredMesh(vertices, faces), views, delight=True)
    colours = srgb_to_linear(coloured.vertex_colours)
    front, side = normals[:, 1] < -0.99, np.abs(normals[:, 0]) > 0.99
    assert (colours[front, 0] > colours[front, 1]).mean() > 0.95
    assert (colours[side, 1] > colours[side, 0]).mean() > 0.95
    # The lighting fit, with the box's true normals, explains the side facing away from the light: before any
    # evening out its samples are as bright as the lit side's (the photos: 3.8 x darker).
    lit, dark = side & (normals[:, 0] > 0), side & (normals[:, 0] < 0)
    assert shaded[dark, 1].mean() < 0.3 * shaded[lit, 1].mean()
    seen = np.concatenate([np.flatnonzero(np.abs(normals[:, 0]) > 0.99)] * 2)
    delit = delight_samples(normals[seen], shaded[seen], np.ones(len(seen)))
    on_dark = normals[seen, 0] < 0
    assert delit.albedo[on_dark, 1].mean() == pytest.approx(delit.albedo[~on_dark, 1].mean(), rel=0.1)


def sphere_with_a_soft_shadow_and_a_dark_cap():
    """A white icosphere with a dark grey cap (z > 0.6) and a shadow fading in smoothly over its -x side."""
    sphere = trimesh.creation.icosphere(4)
    vertices, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    paint = np.where((vertices[:, 2] > 0.6)[:, None], 0.08, 0.8) * np.ones(3)
    shadow = 0.1 + 0.9 * np.clip((vertices[:, 0] + 0.6) / 0.8, 0, 1)  # 10 x darker at x < -0.6, full light at x > 0.2
    return vertices, faces, paint, paint * shadow[:, None], shadow


def test_evening_out_lifts_a_soft_shadow_but_not_a_dark_paint_next_to_a_light_one():
    from fabricate.color.delight import even_out_regions, shading_regions
    from fabricate.color.fill import vertex_adjacency

    vertices, faces, paint, photo, shadow = sphere_with_a_soft_shadow_and_a_dark_cap()
    known = vertices[:, 1] < 0.3  # the side a photo along +y sees, and some more
    adjacency = vertex_adjacency(faces, len(vertices))
    regions = shading_regions(photo, known, adjacency)
    white, cap = known & (vertices[:, 2] < 0.5), known & (vertices[:, 2] > 0.7)
    assert len(np.unique(regions[white])) == 1  # one paint under a shadow that fades in gradually
    assert not np.isin(regions[cap], regions[white]).any()  # a paint line: a step, which no region crosses
    assert (regions[~known] == -1).all()
    evened = even_out_regions(photo, known, adjacency, np.ones(len(vertices)))
    assert photo[white].min() < 0.11 * photo[white].max()
    assert evened[white].min() > 0.95 * evened[white].max()  # the shadow is gone
    assert evened[cap].max() < 0.25 * evened[white].min()  # the dark cap stays dark (x 10 darker in truth)


def test_a_shadow_does_not_make_a_second_filament_but_a_paint_line_does():
    from fabricate.color.palette import assign_filaments

    vertices, faces, paint, photo, _ = sphere_with_a_soft_shadow_and_a_dark_cap()
    uniform = np.full_like(photo, 0.8) * photo[:, :1] / paint[:, :1]  # the same shadow on all-white paint

    class View:  # a photo along +y of colours given per vertex
        direction = np.array([0.0, 1.0, 0.0])

        def __init__(self, linear):
            self.linear = linear

        def sample(self, points):
            index = np.argmin(((points[:, None] - mesh.vertices[None]) ** 2).sum(-1), axis=1)
            return linear_to_srgb(self.linear[index])

    mesh = ColouredMesh(vertices * 20 + 40, faces)  # voxel-sized
    for linear, expected in ((uniform, 1), (photo, 2)):
        delit = colour_from_views(mesh, [View(linear)], delight=True)
        assert assign_filaments(delit, 4, auto=True).count == expected
        plain = srgb_to_linear(colour_from_views(mesh, [View(linear)], delight=False).vertex_colours).mean(axis=1)
        assert plain.min() < 0.2 * plain.max()  # the photo's colours keep the shadow


def test_the_renderer_adds_a_highlight_only_when_asked():
    from fabricate.render import orbit_camera, render_mesh

    sphere = trimesh.creation.icosphere(4)
    camera = orbit_camera(sphere.vertices, 0.0, 0.0, size=64)
    albedo = np.full((len(sphere.faces), 3), 120, np.uint8)
    plain = render_mesh(sphere.vertices, sphere.faces, camera, albedo, -camera.forward)
    again = render_mesh(sphere.vertices, sphere.faces, camera, albedo, -camera.forward, specular=0.0)
    shiny = render_mesh(sphere.vertices, sphere.faces, camera, albedo, -camera.forward, specular=0.5)
    assert np.array_equal(plain.rgb, again.rgb)
    assert shiny.rgb[32, 32].min() > plain.rgb[32, 32].max() + 60  # white added at the centre
    assert np.array_equal(shiny.rgb[~shiny.mask], plain.rgb[~plain.mask])


def test_delight_option_is_declared_once_and_on_by_default():
    from fabricate.errors import BadOption
    from fabricate.options import MakeOptions

    assert MakeOptions(printer="bambu-a1").delight == "auto"
    MakeOptions(printer="bambu-a1", delight="off").validate()
    with pytest.raises(BadOption):
        MakeOptions(printer="bambu-a1", delight="maybe").validate()


@pytest.mark.slow
def test_colour_score_falls_by_at_least_forty_percent_with_delighting(tmp_path):
    """The evaluation's colour score on two training meshes (never the held-out ones)."""
    from pathlib import Path

    from fabricate.evaluate.colour import colour_table, evaluate_colour

    train = Path(__file__).resolve().parents[2] / "shared" / "meshes" / "train"
    if not (train / "suzanne.obj").exists():
        pytest.skip(f"the training meshes are not at {train}")
    for name in ("suzanne", "cheburashka"):
        (tmp_path / f"{name}.obj").symlink_to(train / f"{name}.obj")
    rows = evaluate_colour(mesh_dir=tmp_path, size=256)
    photo = np.mean([r["colour_error_photo"] for r in rows])
    delit = np.mean([r["colour_error_delit"] for r in rows])
    assert delit < 0.6 * photo, colour_table(rows)
