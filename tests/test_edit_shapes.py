"""Issue 18's shape edits measured on real models: hollowing with drain holes, thickening thin walls,
smoothing, embossed and engraved text; and redo after undo. Every output is read back from its 3MF
and judged with the independent checks of conftest (lib3mf, manifold3d, twinned edges); wall
thickness is measured with libigl's exact point-to-mesh distance, connectivity by flooding a grid."""
from __future__ import annotations

import shutil

import manifold3d
import numpy as np
import pytest

from fabricate.edit import edit_model, load_model, write_model
from fabricate.edit.parse import parse_builtin
from fabricate.mesh.coloured_mesh import ColouredMesh

from conftest import assert_printable_3mf, run_cli
from test_edit import PRINTER, made_model  # noqa: F401 (the session's made hamburger)


def _solid(mesh):
    return manifold3d.Manifold(manifold3d.Mesh(np.array(mesh.vertices, np.float32), np.array(mesh.faces, np.uint32)))


def _write_and_read(result, path, min_colours=2):
    write_model(result, path)
    assert_printable_3mf(path, PRINTER, min_colours=min_colours)
    return load_model(path).mesh


def _surface_pieces(faces: np.ndarray) -> int:
    """Connected pieces of the surface (triangles sharing an edge), counted here, not by manifold3d."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    _, edge_id = np.unique(edges, axis=0, return_inverse=True)
    order = np.argsort(edge_id.ravel(), kind="stable")
    pairs = owner[order].reshape(-1, 2)  # a closed 2-manifold: every edge has two triangles
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(faces),) * 2)
    return connected_components(graph, directed=False)[0]


def _unsigned_distance(points, mesh):
    import igl

    distance, _, _, _ = igl.signed_distance(np.ascontiguousarray(points, np.float64),
                                            np.ascontiguousarray(mesh.vertices, np.float64),
                                            np.ascontiguousarray(mesh.faces, np.int64),
                                            sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_UNSIGNED)
    return distance


@pytest.mark.slow
def test_hollow_keeps_the_wall_and_drains_the_cavity(made_model, tmp_path):  # noqa: F811
    wall, drain = 2.0, 4.0
    before = load_model(made_model, PRINTER)
    after = _write_and_read(edit_model(before, f"hollow it with {wall:g} mm walls and two {drain:g} mm drain holes"),
                            tmp_path / "hollow.3mf")
    outer = before.mesh
    # Placement only rests and centres: move the original onto the result to compare surfaces.
    shift = (after.bounds[0] + after.bounds[1]) / 2 - (outer.bounds[0] + outer.bounds[1]) / 2
    shift[2] = after.bounds[0, 2] - outer.bounds[0, 2]
    outer = outer.copy(vertices=outer.vertices + shift)
    assert _solid(after).volume() < 0.6 * _solid(outer).volume()

    # The drain holes: the holes of a section through the base, as many as asked, as wide as asked.
    section = _solid(after).slice(float(after.bounds[0, 2]) + wall / 2).to_polygons()
    holes = [np.asarray(p) for p in section if _signed_area(np.asarray(p)) < 0]
    assert len(holes) == 2, [len(h) for h in holes]
    for hole in holes:
        assert 2 * np.sqrt(-_signed_area(hole) / np.pi) == pytest.approx(drain, abs=0.1)
    axes = [_centroid(h) for h in holes]

    # Wall thickness: every point of the cavity surface (not on the outer surface, not a drain's
    # wall) is at least the wall away from the outer surface.
    tri = after.vertices[after.faces]
    samples = np.concatenate([tri.mean(axis=1), after.vertices])
    distance = _unsigned_distance(samples, outer)
    off_axis = np.min([np.linalg.norm(samples[:, :2] - a, axis=1) for a in axes], axis=0)
    cavity = (distance > 0.05) & (off_axis > drain / 2 + 0.1)
    assert cavity.sum() > 1000
    assert distance[cavity].min() >= wall - 0.02, distance[cavity].min()

    # Connected: one surface (the cavity is no separate shell), and a point deep in the cavity
    # reaches the outside through empty grid cells.
    assert _surface_pieces(after.faces) == 1
    import igl
    from scipy import ndimage

    step = 0.5
    lo, hi = after.bounds[0] - 2, after.bounds[1] + 2
    axes3 = [np.arange(lo[i], hi[i], step) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes3, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = igl.fast_winding_number(np.ascontiguousarray(after.vertices), np.ascontiguousarray(after.faces), grid)
    empty = (inside < 0.5).reshape([len(a) for a in axes3])
    labels, _ = ndimage.label(empty)
    depth = _unsigned_distance(grid, outer) * (igl.fast_winding_number(
        np.ascontiguousarray(outer.vertices), np.ascontiguousarray(outer.faces), grid) > 0.5)
    deepest = np.unravel_index(int(np.argmax(depth)), empty.shape)
    assert empty[deepest] and labels[deepest] == labels[0, 0, 0]


def _centroid(polygon):
    x, y = polygon[:, 0], polygon[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    return np.array([((x + np.roll(x, -1)) * cross).sum(), ((y + np.roll(y, -1)) * cross).sum()]) / (3 * cross.sum())


def _signed_area(polygon):
    x, y = polygon[:, 0], polygon[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def _fin_model(thickness):
    """A 30 x 30 x 4 mm block with a fin ``thickness`` thin, 20 mm long and 15 mm tall, in two colours."""
    block = manifold3d.Manifold.cube([30, 30, 4])
    fin = manifold3d.Manifold.cube([20, thickness, 15]).translate([5, 15 - thickness / 2, 3.9])
    out = (block + fin).refine_to_length(2.0).to_mesh()
    vertices, faces = np.array(out.vert_properties, np.float64)[:, :3], np.array(out.tri_verts, np.int64)
    colours = np.where((vertices[faces].mean(axis=1)[:, 2] > 4)[:, None], [[200, 30, 30]], [[30, 30, 200]])
    return ColouredMesh(vertices, faces, None, colours.astype(np.uint8))


def _fin_thickness(mesh, heights):
    """The fin's thickness (its extent across y) in sections at ``heights`` above the block."""
    solid, bottom = _solid(mesh), float(mesh.bounds[0, 2])
    spans = []
    for z in heights:
        for contour in solid.slice(bottom + z).to_polygons():
            contour = np.asarray(contour)
            middle = np.abs(contour[:, 0] - contour[:, 0].mean()) < 6  # away from the fin's rounded ends
            spans.append(float(np.ptp(contour[middle, 1])))
    return spans


@pytest.mark.parametrize("low, high", [(0.0, 1.5), (1.5, 2.5), (-1.0, 1.0)])
def test_depth_inside_is_the_exact_depth_clipped_to_the_range(low, high):
    """The coarse pass only skips work: every grid point gets libigl's full signed distance
    (unbounded, measured here for all of them), clipped to the range."""
    import igl

    from fabricate.edit.volume import _grid, depth_inside

    mesh = _fin_model(1.0)
    step = 0.4
    origin, shape = _grid(mesh, step, pad=3)
    depth = depth_inside(mesh, origin, step, shape, low, high)
    axes = [origin[i] + step * np.arange(shape[i]) for i in range(3)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    full, _, _, _ = igl.signed_distance(points, np.ascontiguousarray(mesh.vertices, np.float64),
                                        np.ascontiguousarray(mesh.faces, np.int64),
                                        sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_PSEUDONORMAL)
    expected = np.clip(-full.reshape(shape), low, high)
    assert ((expected > low) & (expected < high)).sum() > 1000  # the range holds many points
    np.testing.assert_array_equal(depth, expected)


@pytest.mark.slow
def test_thicken_grows_a_thin_fin_to_the_minimum(tmp_path):
    before = _fin_model(1.0)
    assert max(_fin_thickness(before, (8, 12, 16))) == pytest.approx(1.0, abs=1e-6)
    after = _write_and_read(edit_model(before, "thicken walls to at least 2 mm", printer=PRINTER),
                            tmp_path / "thick.3mf")
    spans = _fin_thickness(after, (8, 12, 16))
    assert min(spans) >= 2.0 - 0.05, spans
    assert max(spans) <= 2.0 + 1.0, spans  # grown to the minimum, not swollen
    # The block, thicker than the minimum, keeps its size.
    assert after.extents[:2] == pytest.approx(before.extents[:2], abs=0.01)


@pytest.mark.slow
def test_smooth_keeps_volume_and_base(made_model, tmp_path):  # noqa: F811
    before = load_model(made_model, PRINTER)
    a_bit, much = (_write_and_read(edit_model(before, text), tmp_path / f"{i}.3mf")
                   for i, text in enumerate(["smooth it a bit", "smooth it a lot"]))
    volume = _solid(before.mesh).volume()
    roughness = []
    for mesh in (before.mesh, a_bit, much):
        solid = _solid(mesh)
        assert solid.volume() == pytest.approx(volume, rel=0.005)
        roughness.append(solid.surface_area())
        assert mesh.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-4)
    assert roughness[0] > roughness[1] > roughness[2]  # a smoother surface of the same volume has less area


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("prusa-slicer"), reason="prusa-slicer is not installed")
def test_text_emboss_adds_and_engrave_removes_and_slices(made_model, tmp_path):  # noqa: F811
    from fabricate.edit.text import text_outline
    from fabricate.export.slice import slice_3mf

    model = load_model(made_model, PRINTER)
    volume = _solid(model.mesh).volume()
    # Flatten first so the base is one plane, then emboss 8 mm letters on it: the model then stands
    # on the letters, whose contact is the outline's area.
    flat = load_model(_write_and_read(edit_model(model, "flatten the base by 3 mm"), tmp_path / "flat.3mf") and
                      tmp_path / "flat.3mf")
    embossed = edit_model(flat, 'emboss "FAB" on the base in 8 mm letters 1 mm deep')
    on_base = _write_and_read(embossed, tmp_path / "emboss_base.3mf")
    assert on_base.extents[2] == pytest.approx(flat.mesh.extents[2] + 1.0, abs=0.01)
    tri = on_base.vertices[on_base.faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    contact = np.linalg.norm(normal[(tri[:, :, 2].max(axis=1) < 1e-3) & (normal[:, 2] < 0)], axis=1).sum() / 2
    assert contact == pytest.approx(text_outline("FAB", 8.0).area(), rel=0.02)

    back = _write_and_read(edit_model(model, 'emboss "Hi" on the back 1.5 mm deep'), tmp_path / "emboss_back.3mf")
    assert _solid(back).volume() > volume + 10
    engraved = _write_and_read(edit_model(model, 'engrave "ANNA" on the back'), tmp_path / "engrave.3mf")
    assert _solid(engraved).volume() < volume - 10
    assert engraved.extents == pytest.approx(model.mesh.extents, abs=0.01)
    for name in ("emboss_base", "engrave"):
        report = slice_3mf(str(tmp_path / f"{name}.3mf"), str(tmp_path / f"{name}.gcode"))
        assert (tmp_path / f"{name}.gcode").stat().st_size > 0 and report is not None


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("prusa-slicer"), reason="prusa-slicer is not installed")
def test_prusaslicer_slices_hollowed_smoothed_thickened(made_model, tmp_path):  # noqa: F811
    from fabricate.export.slice import slice_3mf

    for name, text in [("hollow", "make it hollow"), ("smooth", "smooth it")]:
        path = tmp_path / f"{name}.3mf"
        write_model(edit_model(load_model(made_model, PRINTER), text), path)
        slice_3mf(str(path), str(tmp_path / f"{name}.gcode"))
        assert (tmp_path / f"{name}.gcode").stat().st_size > 0
    path = tmp_path / "thick.3mf"
    write_model(edit_model(_fin_model(0.8), "thicken walls to at least 2 mm", printer=PRINTER), path)
    slice_3mf(str(path), str(tmp_path / "thick.gcode"))
    assert (tmp_path / "thick.gcode").stat().st_size > 0


def test_text_is_set_with_the_fonts_kerning():
    """"AV" closes up by the font's pair value: its width is A's advance plus the pair's kerning plus V's ink."""
    from fabricate.edit.text import _font, kerning, text_outline

    font = _font()
    cmap, glyf, metrics = font.getBestCmap(), font["glyf"], font["hmtx"]
    a, v = cmap[ord("A")], cmap[ord("V")]
    assert kerning()[(a, v)] < 0
    cap = glyf[cmap[ord("H")]].yMax
    x0, _, x1, _ = text_outline("AV", 10.0).bounds()
    glyf[a].recalcBounds(glyf)
    glyf[v].recalcBounds(glyf)
    expected = (metrics[a][0] + kerning()[(a, v)] + glyf[v].xMax - glyf[a].xMin) * 10.0 / cap
    assert abs((x1 - x0) - expected) < 0.01, (x1 - x0, expected)


def test_text_and_shape_instructions_parse():
    cases = {
        "hollow it with 2 mm walls": ("hollow", {"wall_mm": 2.0, "drains": 2}),
        "hollow it out with a 3 mm wall and one drain hole": ("hollow", {"wall_mm": 3.0, "drains": 1}),
        "thicken walls to at least 1.5 mm": ("thicken", {"min_wall_mm": 1.5}),
        "make the walls at least 2 mm thick": ("thicken", {"min_wall_mm": 2.0}),
        "smooth it a bit": ("smooth", {"passes": 5}),
        "smooth it a lot": ("smooth", {"passes": 25}),
        'engrave "Anna" on the base': ("text", {"text": "Anna", "mode": "engrave", "side": "base"}),
        'emboss "Hi, Bob." on the back 2 mm deep': ("text", {"text": "Hi, Bob.", "mode": "emboss", "depth_mm": 2.0}),
        "engrave bob on the base": ("text", {"text": "bob", "side": "base"}),
    }
    for text, (name, params) in cases.items():
        (op,) = parse_builtin(text)
        assert op.name == name and all(op.parameters[k] == v for k, v in params.items()), (text, op.to_dict())


@pytest.mark.slow
def test_cli_redo_after_undo_is_exact_and_a_new_edit_drops_it(made_model, tmp_path):  # noqa: F811
    from fabricate.export.threemf import read_3mf

    first, second, back, again = (tmp_path / f"{n}.3mf" for n in ("v1", "v2", "back", "again"))
    assert run_cli("edit", made_model, "make it 20% taller", "--printer", PRINTER, "-o", first).returncode == 0
    assert run_cli("edit", first, "add a keyring hole", "-o", second).returncode == 0
    assert run_cli("edit", second, "--undo", "1", "-o", back).returncode == 0
    history = run_cli("edit", back, "--history").stdout
    assert "--redo can restore: version 2" in history
    run = run_cli("edit", back, "--redo", "1", "-o", again)
    assert run.returncode == 0, run.stderr
    a, b = read_3mf(second), read_3mf(again)
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert np.array_equal(a.face_colours, b.face_colours)
    assert load_model(again).version == 2
    refused = tmp_path / "refused.3mf"
    run = run_cli("edit", again, "--redo", "1", "-o", refused)
    assert run.returncode == 2 and "cannot redo" in run.stderr and not refused.exists()
    # A new edit after an undo drops what could be redone.
    branched = tmp_path / "branched.3mf"
    assert run_cli("edit", back, "mirror it", "-o", branched).returncode == 0
    assert run_cli("edit", branched, "--redo", "1", "-o", refused).returncode == 2


def test_a_boolean_edit_keeps_each_surviving_triangle_colour_by_its_id():
    """manifold3d's face ids carry the colours of the triangles an edit keeps, split ones too (a
    nearest-centre search can hand a split piece its neighbour's); new walls take a neighbour's."""
    import trimesh

    from fabricate.edit.operations import _mesh_of, _solid

    ball = trimesh.creation.icosphere(3)
    ball.apply_scale(20)
    colours = np.random.default_rng(0).integers(0, 255, (len(ball.faces), 3)).astype(np.uint8)
    model = ColouredMesh(np.asarray(ball.vertices), np.asarray(ball.faces), None, colours, {})
    solid = _solid(model)
    cut = solid - manifold3d.Manifold.cube((30, 30, 30)).translate((5, -15, -15))  # cap at x = 5
    result = _mesh_of(cut, model, solid)
    centres = result.vertices[result.faces].mean(axis=1)
    on_ball = centres[:, 0] < 5 - 1e-3
    # Every piece of the ball's surface has the colour of the ball's triangle it lies in.
    import igl

    _, source, _ = igl.point_mesh_squared_distance(centres[on_ball], model.vertices, model.faces)
    assert on_ball.sum() > 0.5 * len(result.faces)
    assert np.array_equal(result.face_colours[on_ball], colours[source])
    # The cap's triangles take colours of the ball's triangles along the cut.
    assert set(map(tuple, result.face_colours[~on_ball])) <= set(map(tuple, colours))
