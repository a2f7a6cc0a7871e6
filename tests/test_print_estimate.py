"""The print estimate on boxes whose answer is known by hand."""
import math

import numpy as np
import pytest
import trimesh

from fabricate.mesh import ColouredMesh
from fabricate.printing import get_printer
from fabricate.printing.estimate import (LARGE_PRINT_G, PURGE_MM3_PER_CHANGE, SUPPORT_FILL, estimate_from_slice, estimate_print,
                                         tool_changes)
from fabricate.printing.settings import MATERIAL_FIGURES, Filament, build_settings


def box_on_bed(size):
    tm = trimesh.creation.box(size)
    tm.apply_translation([0, 0, size[2] / 2])
    return ColouredMesh(tm.vertices, tm.faces, np.full((len(tm.vertices), 3), 150, np.uint8))


def settings(**changes):
    chosen = build_settings(get_printer("prusa-mk4s"), filaments=[Filament("#FFFFFF", "PETG")])
    for key, value in changes.items():
        setattr(chosen, key, value)
    return chosen


def test_a_solid_cube_weighs_its_volume_times_the_density():
    cube = box_on_bed([20, 20, 20])
    estimate = estimate_print(cube, settings(infill_density=100.0), 0.4)
    assert estimate.grams == pytest.approx(8.0 * MATERIAL_FIGURES["PETG"].density_g_cm3, abs=0.01)
    assert estimate.metres == pytest.approx(8000 / (math.pi * 0.875 ** 2) / 1000, abs=0.01)
    assert estimate.tool_changes == 0 and estimate.layers == 100


def test_an_empty_cube_is_its_shell_walls_on_the_sides_skins_on_top_and_bottom():
    chosen = settings(infill_density=0.0, wall_loops=2, top_layers=5, bottom_layers=4, layer_height=0.2)
    estimate = estimate_print(box_on_bed([20, 20, 20]), chosen, 0.4)
    sides = 4 * 20 * 20 * 2 * 0.45   # two 0.45 mm extrusions along each side
    skins = 20 * 20 * (5 + 4) * 0.2   # five layers on top, four at the bottom
    assert estimate.grams == pytest.approx((sides + skins) / 1000 * MATERIAL_FIGURES["PETG"].density_g_cm3, abs=0.01)


def test_two_filaments_side_by_side_change_once_a_layer_and_purge_each_time():
    mesh = box_on_bed([20, 20, 10])
    left = mesh.vertices[mesh.faces][:, :, 0].mean(axis=1) < 0
    # A box's triangles are its six faces: the left face's are one filament, all others the other.
    face_filament = np.where(left & (np.abs(mesh.vertices[mesh.faces][:, :, 0].mean(axis=1) + 10) < 1e-9), 1, 0)
    chosen = settings(infill_density=0.0)
    one = estimate_print(mesh, chosen, 0.4)
    two = estimate_print(mesh, chosen, 0.4, face_filament)
    assert tool_changes(mesh, face_filament, chosen) == two.tool_changes == one.layers
    extra = two.tool_changes * PURGE_MM3_PER_CHANGE / 1000 * MATERIAL_FIGURES["PETG"].density_g_cm3
    assert two.grams == pytest.approx(one.grams + extra, abs=0.1)
    assert two.hours > one.hours


def test_a_huge_print_is_warned_about_and_costs_what_its_grams_do():
    estimate = estimate_print(box_on_bed([200, 200, 200]), settings(), 0.4, price_per_kg=25.0)
    assert estimate.grams > LARGE_PRINT_G
    assert any("very large print" in w for w in estimate.warnings())
    assert any("very long print" in w for w in estimate.warnings())
    assert estimate.cost == pytest.approx(estimate.grams / 1000 * 25.0, abs=0.01)
    assert not estimate_print(box_on_bed([20, 20, 20]), settings(), 0.4).warnings()


def test_supports_add_material_under_an_overhang_only_when_on():
    slab = trimesh.creation.box([40, 40, 4])
    slab.apply_translation([0, 0, 30])
    post = trimesh.creation.box([6, 6, 29])
    post.apply_translation([0, 0, 14.5])
    table = trimesh.boolean.union([slab, post], engine="manifold")
    mesh = ColouredMesh(table.vertices, table.faces, np.full((len(table.vertices), 3), 150, np.uint8))
    off = estimate_print(mesh, settings(supports="off"), 0.4)
    on = estimate_print(mesh, settings(supports="normal"), 0.4)
    under = (40 * 40 - 6 * 6) * 28 * SUPPORT_FILL / 1000 * MATERIAL_FIGURES["PETG"].density_g_cm3
    assert on.grams - off.grams == pytest.approx(under, rel=0.05)


def test_the_slicers_figures_are_taken_as_they_are():
    from fabricate.export.slice import SliceReport

    report = SliceReport(slicer="PrusaSlicer", seconds=1.0, print_time="1h 30m", print_time_s=5400,
                         filament_mm=[1000.0, 500.0], filament_g=[3.0, 1.5], tool_changes=12, layers=80)
    estimate = estimate_from_slice(report, price_per_kg=20.0)
    assert (estimate.grams, estimate.metres, estimate.hours, estimate.tool_changes) == (4.5, 1.5, 1.5, 12)
    assert estimate.cost == 0.09 and "PrusaSlicer" in estimate.method
