import numpy as np
import pytest
import trimesh

from fabricate.mesh import ColouredMesh
from fabricate.printing import fit_to_build_volume, get_printer
from fabricate.printing.analysis import (analyse_print, candidate_poses, floating_parts, overhang_area,
                                         thin_wall_regions)


def as_mesh(tm):
    return ColouredMesh(tm.vertices, tm.faces, np.full((len(tm.vertices), 3), 150, np.uint8))


def table(height=40.0, top=(60, 60, 5), leg=(10, 10)):
    """A mushroom: a 60 x 60 slab on a thin central leg, resting on z = 0."""
    slab = trimesh.creation.box(top)
    slab.apply_translation([0, 0, height + top[2] / 2])
    post = trimesh.creation.box([leg[0], leg[1], height + 1])
    post.apply_translation([0, 0, (height + 1) / 2])
    return trimesh.boolean.union([slab, post], engine="manifold")


def test_overhang_area_of_a_slab_on_a_post():
    mesh = as_mesh(table())
    expected = 60 * 60 - 10 * 10  # the slab's underside, minus where the post meets it
    assert overhang_area(mesh, 45) == pytest.approx(expected, rel=1e-6)
    assert overhang_area(as_mesh(trimesh.creation.box([20, 20, 20])).copy(
        vertices=trimesh.creation.box([20, 20, 20]).vertices + [0, 0, 10]), 45) == 0.0  # on the bed


def test_upside_down_needs_no_support_and_keeps_front_rule():
    mesh = as_mesh(table())
    poses = {p.name: p for p in candidate_poses(mesh, 45)}
    assert poses["photo"].support_area_mm2 > 3000
    flipped = [p for p in poses.values() if p.support_area_mm2 < 1.0]
    assert flipped  # resting on the slab's top needs no support at all


def test_thin_walls_are_found_with_their_place():
    thin = trimesh.creation.box([40, 0.5, 30])
    thin.apply_translation([0, 50, 15])
    thick = trimesh.creation.box([40, 10, 30])
    thick.apply_translation([0, 0, 15])
    mesh = as_mesh(trimesh.util.concatenate([thin, thick]))
    share, regions = thin_wall_regions(mesh, 0.8)
    assert regions and regions[0]["thinnest_mm"] == pytest.approx(0.5, abs=0.01)
    assert regions[0]["centre_mm"][1] == pytest.approx(50, abs=1)
    _, none = thin_wall_regions(as_mesh(thick), 0.8)
    assert none == []


def test_floating_part_is_flagged():
    base = trimesh.creation.box([20, 20, 10])
    base.apply_translation([0, 0, 5])
    floating = trimesh.creation.box([5, 5, 5])
    floating.apply_translation([40, 0, 20])
    parts = floating_parts(as_mesh(trimesh.util.concatenate([base, floating])), 0.2)
    assert len(parts) == 1 and parts[0]["lowest_z_mm"] == pytest.approx(17.5)


def test_least_support_orientation_flips_the_table():
    mesh = as_mesh(table())
    placed, report = fit_to_build_volume(mesh, get_printer("bambu-a1"), orientation="least-support", base_cut=0,
                                         height_mm=40)
    assert overhang_area(placed, 45) < 1.0
    analysis = analyse_print(placed, mesh, 0.4, 45, 0.2)
    assert analysis.overhang_area_mm2["45"] < 1.0 and "45" in analysis.overhang_area_mm2
