"""The renderer on tiny meshes: silhouette, depth, normals, shading and the preview's view."""
import numpy as np
import pytest
import trimesh

from fabricate.render import orbit_camera, render_mesh, render_preview

RED, GREEN, BLUE, GREY = (200, 40, 40), (40, 200, 40), (40, 40, 200), (128, 128, 128)


def cube():
    """A 2 x 2 x 2 cube of 12 triangles around the origin, and each triangle's outward normal."""
    box = trimesh.creation.box(extents=(2.0, 2.0, 2.0))
    return np.asarray(box.vertices), np.asarray(box.faces), np.asarray(box.face_normals)


def paint(normals, colours_by_direction, other=GREY):
    """Per-triangle colours: each triangle whose normal is one of the given directions gets its colour."""
    albedo = np.tile(np.array(other, np.uint8), (len(normals), 1))
    for direction, colour in colours_by_direction.items():
        albedo[np.isclose(normals @ np.array(direction, float), 1.0)] = colour
    return albedo


def test_unit_sphere_renders_to_the_expected_silhouette_and_depth():
    sphere = trimesh.creation.icosphere(5)
    camera = orbit_camera(sphere.vertices, azimuth_deg=30, elevation_deg=10, size=200, fill=0.8)
    render = render_mesh(sphere.vertices, sphere.faces, camera, np.full((len(sphere.faces), 3), 200, np.uint8),
                         light=-camera.forward)
    radius_px = 1.0 / camera.pixel_size
    assert radius_px == pytest.approx(80.0)
    expected_area = np.pi * radius_px ** 2
    assert render.mask.sum() == pytest.approx(expected_area, rel=0.01)
    # Depth at the centre is the distance from the image plane through the centre to the front: -1.
    centre_depth = render.depth[99:101, 99:101].mean()
    assert centre_depth == pytest.approx(-1.0, abs=0.01)
    # Depth across the disc follows the sphere: -sqrt(1 - r^2).
    ii, jj = np.nonzero(render.mask)
    r = np.hypot(jj - 99.5, ii - 99.5) * camera.pixel_size
    inner = r < 0.9
    assert np.abs(render.depth[ii, jj][inner] + np.sqrt(1 - r[inner] ** 2)).max() < 0.01
    # Lit from the camera: brightest in the middle, background white around.
    assert render.rgb[100, 100].mean() > render.rgb[100, 30].mean() or not render.mask[100, 30]
    assert (render.rgb[~render.mask] == 255).all()


def test_cube_seen_face_on_gives_a_square_at_depth_minus_one_with_its_normal():
    vertices, faces, normals = cube()
    # Y up, azimuth 0: the camera looks along -X, at the cube's +X face.
    camera = orbit_camera(vertices, 0.0, 0.0, size=40, fill=0.8, up_axis=1)
    assert np.allclose(camera.forward, [-1, 0, 0])
    render = render_mesh(vertices, faces, camera, paint(normals, {(1, 0, 0): RED}), light=-camera.forward)
    side_px = 2.0 / camera.pixel_size
    assert render.mask.sum() == pytest.approx(side_px ** 2, rel=0.15)
    ii, jj = np.nonzero(render.mask)
    assert ii.min() + ii.max() == jj.min() + jj.max() == 39  # centred in the frame
    assert np.allclose(render.depth[render.mask], -1.0)
    assert np.isinf(render.depth[~render.mask]).all()
    assert np.allclose(render.normals[render.mask], [1, 0, 0])
    assert (render.normals[~render.mask] == 0).all()
    # Lit head-on, the face shows its own colour; only the +X face is seen.
    assert (render.rgb[render.mask] == RED).all()
    assert (render.rgb[~render.mask] == 255).all()
    assert (render.rgba()[..., 3] == render.mask * 255).all()


def test_shading_is_ambient_plus_lambert():
    vertices, faces, normals = cube()
    camera = orbit_camera(vertices, 0.0, 0.0, size=16, up_axis=1)
    albedo = paint(normals, {}, other=(200, 200, 200))
    sideways = render_mesh(vertices, faces, camera, albedo, light=camera.up)  # light grazes the seen face
    assert (sideways.rgb[sideways.mask] == int(200 * 0.35)).all()
    tilted = render_mesh(vertices, faces, camera, albedo, light=-camera.forward + camera.up, ambient=0.5)
    expected = 200 * (0.5 + 0.5 * np.cos(np.radians(45)))
    assert np.abs(tilted.rgb[tilted.mask].astype(float) - expected).max() <= 1


def test_an_open_surface_seen_from_behind_is_lit_on_the_side_the_camera_sees():
    square = np.array([[1.0, -1, -1], [1, 1, -1], [1, 1, 1], [1, -1, 1]])
    facing_away = np.array([[0, 2, 1], [0, 3, 2]])  # normals along -X, the camera looks along -X
    camera = orbit_camera(square, 0.0, 0.0, size=16, up_axis=1)
    render = render_mesh(square, facing_away, camera, np.full((2, 3), 200, np.uint8), light=-camera.forward)
    assert render.mask.any()
    assert np.allclose(render.normals[render.mask], -camera.forward)
    assert (render.rgb[render.mask] == 200).all()


def test_photo_frame_puts_vertices_on_their_pixels():
    vertices, faces, normals = cube()
    camera = orbit_camera(vertices, 0.0, 0.0, size=40, fill=0.8, up_axis=1)
    photo = camera.to_photo_frame(vertices)
    assert np.allclose(camera.to_photo_frame(np.zeros((1, 3))), [[19.5, 19.5, 0.0]])
    render = render_mesh(vertices, faces, camera, paint(normals, {}), light=-camera.forward)
    ii, jj = np.nonzero(render.mask)
    # Pixel centres inside the square that the corners project to, to within one pixel.
    assert photo[:, 0].min() - 1 < jj.min() and jj.max() < photo[:, 0].max() + 1
    assert photo[:, 1].min() - 1 < ii.min() and ii.max() < photo[:, 1].max() + 1
    # The +Y corners (the top) land on the smallest rows: rows grow downwards.
    assert photo[vertices[:, 1] > 0, 1].max() < photo[vertices[:, 1] < 0, 1].min()


def test_preview_shows_the_front_the_left_side_and_the_top():
    vertices, faces, normals = cube()
    # A made model stands Z up with the photo's front facing -Y.
    colours = paint(normals, {(0, -1, 0): RED, (-1, 0, 0): GREEN, (0, 0, 1): BLUE})
    image = np.asarray(render_preview(vertices, faces, colours, size=48))
    assert image.shape == (48, 48, 3)
    assert (image[0, 0] == 245).all() and (image[-1, -1] == 245).all()
    object_pixels = image[(image != 245).any(axis=-1)]
    hue = object_pixels.argmax(axis=1)
    dominant = object_pixels.max(axis=1) > object_pixels.min(axis=1) + 40
    seen = {("red", "green", "blue")[h] for h in hue[dominant]}
    assert seen == {"red", "green", "blue"}
    assert not (~dominant).any()  # no grey: back, right and bottom are hidden


def test_preview_straight_at_the_front_without_colours_is_grey():
    vertices, faces, _ = cube()
    image = np.asarray(render_preview(vertices, faces, size=32, azimuth_deg=180.0, elevation_deg=0.0))
    seen = image[(image != 245).any(axis=-1)]
    assert len(seen) > 100
    # One flat face, lit from over the shoulder: a single grey no brighter than the albedo.
    assert (seen == seen[0]).all() and seen[0][0] == seen[0][1] == seen[0][2] <= 200


def test_a_perspective_camera_shows_the_near_face_larger_than_the_far_one():
    # Looking straight at the cube's +X face (azimuth 0), a 35 mm lens: the front face (depth -1)
    # appears larger than the centre plane's scale, the silhouette is that face's square.
    vertices, faces, normals = cube()
    orthographic = orbit_camera(vertices, 0.0, 0.0, size=200, fill=0.8, up_axis=1)
    perspective = orbit_camera(vertices, 0.0, 0.0, size=200, fill=0.8, up_axis=1, focal_mm=35.0)
    albedo = np.full((len(faces), 3), 200, np.uint8)
    flat = render_mesh(vertices, faces, orthographic, albedo, light=-orthographic.forward)
    near = render_mesh(vertices, faces, perspective, albedo, light=-perspective.forward)
    distance = float(np.linalg.norm(perspective.centre - perspective.eye))
    assert distance == pytest.approx(200 * perspective.pixel_size * 35 / 36)
    side_px = 2.0 / perspective.pixel_size * distance / (distance - 1.0)  # the front face, magnified
    assert near.mask.sum() == pytest.approx(side_px ** 2, rel=0.03)
    assert near.mask.sum() > 1.5 * flat.mask.sum()
    # Depth stays measured along the view from the centre plane: the front face is at -1.
    assert np.median(near.depth[near.mask]) == pytest.approx(-1.0, abs=0.01)
    # The true shape is still read in the orthographic frame of the centre plane.
    assert np.allclose(perspective.to_photo_frame(vertices), orthographic.to_photo_frame(vertices))
