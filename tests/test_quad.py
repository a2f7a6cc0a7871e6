"""The quad-dominant OBJ: Instant Meshes on the closed solid, closed itself, close to it, colours carried over."""
import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from fabricate.export.quads import open_edges, quad_remesh, write_quad_obj
from fabricate.mesh.coloured_mesh import ColouredMesh

#: Points sampled on each surface for the Hausdorff distance (their spacing only overestimates it).
SAMPLES = 60_000


def hausdorff(a: trimesh.Trimesh, b: trimesh.Trimesh) -> float:
    """Symmetric Hausdorff distance between two surfaces, from dense samples (an upper bound within the spacing)."""
    pa = np.concatenate([a.sample(SAMPLES, seed=1), a.vertices])
    pb = np.concatenate([b.sample(SAMPLES, seed=2), b.vertices])
    return max(cKDTree(pb).query(pa)[0].max(), cKDTree(pa).query(pb)[0].max())


def bumpy_torus() -> ColouredMesh:
    """A closed torus (genus 1) with bumps and a colour gradient: features the field must follow."""
    torus = trimesh.creation.torus(major_radius=30, minor_radius=12, major_sections=160, minor_sections=80)
    v = np.asarray(torus.vertices)
    angle = np.arctan2(v[:, 1], v[:, 0])
    v = v * (1 + 0.04 * np.sin(6 * angle))[:, None]
    colours = np.stack([128 + 120 * np.cos(angle), 128 + 120 * np.sin(angle), np.full(len(v), 90)], 1)
    return ColouredMesh(v, np.asarray(torus.faces), np.clip(colours, 0, 255).astype(np.uint8))


def check_quad_mesh(quad, source: ColouredMesh):
    assert quad.quad_share >= 0.9, quad.quad_share
    assert open_edges(quad.faces) == 0  # closed: every edge in exactly two faces, once each way
    remeshed = trimesh.Trimesh(quad.vertices, quad.triangles(), process=False)
    solid = trimesh.Trimesh(source.vertices, source.faces, process=False)
    assert remeshed.is_watertight and remeshed.is_winding_consistent and remeshed.volume > 0
    diagonal = float(np.linalg.norm(solid.extents))
    distance = hausdorff(remeshed, solid)
    assert distance <= 0.01 * diagonal, f"Hausdorff {distance:.3f} > 1 % of the {diagonal:.1f} diagonal"
    return distance / diagonal


def test_quad_remesh_of_a_torus_is_closed_quads_close_to_the_solid():
    source = bumpy_torus()
    quad = quad_remesh(source, quads=8000)
    check_quad_mesh(quad, source)
    # Colours come from the nearest source surface: the gradient survives.
    angle = np.arctan2(quad.vertices[:, 1], quad.vertices[:, 0])
    assert np.corrcoef(quad.vertex_colours[:, 0], np.cos(angle))[0, 1] > 0.95


def test_quad_remesh_is_deterministic():
    source = bumpy_torus()
    first, second = quad_remesh(source, quads=4000), quad_remesh(source, quads=4000)
    assert np.array_equal(first.faces, second.faces) and np.array_equal(first.vertices, second.vertices)


def test_quad_obj_reads_back_with_quads_and_colours(tmp_path):
    path = tmp_path / "model.quad.obj"
    write_quad_obj(path, bumpy_torus(), quads=4000)
    lines = path.read_text().splitlines()
    faces = [line.split()[1:] for line in lines if line.startswith("f ")]
    assert sum(len(f) == 4 for f in faces) >= 0.9 * len(faces)
    vertex = next(line for line in lines if line.startswith("v "))
    assert len(vertex.split()) == 7  # x y z r g b
    loaded = trimesh.load(path, force="mesh", process=False)
    assert loaded.is_watertight and loaded.visual.kind == "vertex"


def test_an_open_surface_is_refused_not_written_open(tmp_path):
    from fabricate.errors import MeshError

    half = trimesh.creation.icosphere(4)
    keep = half.triangles_center[:, 2] > 0
    source = ColouredMesh(np.asarray(half.vertices), np.asarray(half.faces)[keep])
    path = tmp_path / "open.quad.obj"
    with pytest.raises(MeshError, match="not come out closed"):
        write_quad_obj(path, source, quads=2000)
    assert not path.exists()
