import numpy as np
import pytest
import trimesh

from fabricate.errors import InputError
from fabricate.mesh import ColouredMesh, validate_mesh
from fabricate.printing import fit_to_build_volume, get_printer, inside_build_volume, list_printers, with_colours_of
from fabricate.printing.stable_pose import stable_poses

REQUIRED = ["bambu-a1", "bambu-a1-mini", "bambu-p1s", "bambu-x1c", "prusa-mk4s", "prusa-mk4s-mmu3", "prusa-mini-plus",
            "prusa-xl", "prusa-xl-5t", "prusa-core-one", "creality-ender-3-v3", "creality-k1", "elegoo-neptune-4",
            "anycubic-kobra-3", "voron-2.4-300"]
#: Printers the vendor's slicer ships both as a single-extruder and as a multi-material printer
#: (PrusaSlicer PrusaResearch.ini: "… MMU3 …" and "Original Prusa XL - 5T …" sections): the plain id is the
#: single-extruder one, so choosing "Prusa MK4S" never silently means five filaments.
SINGLE_AND_MULTI = {"prusa-mk4s": "prusa-mk4s-mmu3", "prusa-mk4": "prusa-mk4-mmu3", "prusa-mk3s": "prusa-mk3s-mmu3",
                    "prusa-core-one": "prusa-core-one-mmu3", "prusa-xl": "prusa-xl-5t"}
#: Id endings that mark a profile as the multi-material variant of another printer.
MULTI_MATERIAL_SUFFIXES = ("-mmu3", "-5t")


def blob():
    s = trimesh.creation.icosphere(4)
    s.apply_scale([1.0, 0.6, 1.6])
    colours = np.full((len(s.vertices), 3), 180, np.uint8)
    return ColouredMesh(s.vertices, s.faces, colours)


def test_profiles():
    profiles = list_printers()
    assert len(profiles) >= 15
    ids = {p.id for p in profiles}
    assert set(REQUIRED) <= ids
    a1 = get_printer("bambu-a1")
    assert a1.build_volume_mm == (256.0, 256.0, 256.0) and a1.nozzle_diameter_mm == 0.4
    assert get_printer("prusa-mk4s").build_volume_mm == (250.0, 210.0, 220.0)
    for p in profiles:
        assert all(v > 0 for v in p.usable_size_mm) and p.source


def test_printers_shipped_single_and_multi_material_list_both_and_the_plain_id_is_single():
    profiles = {p.id: p for p in list_printers()}
    for single_id, multi_id in SINGLE_AND_MULTI.items():
        single, multi = profiles[single_id], profiles[multi_id]
        assert (single.filament_slots, single.multi_material) == (1, "none"), single_id
        assert multi.filament_slots == 5 and multi.multi_material != "none", multi_id
        # The same machine: only the filament path differs.
        assert (multi.vendor, multi.build_volume_mm, multi.bed_origin_mm, multi.nozzle_diameter_mm) == \
            (single.vendor, single.build_volume_mm, single.bed_origin_mm, single.nozzle_diameter_mm), multi_id
        assert (single.slicer_presets is None) == (multi.slicer_presets is None), multi_id
    # Every multi-material variant has its single-extruder printer listed beside it.
    for printer_id in profiles:
        for suffix in MULTI_MATERIAL_SUFFIXES:
            if printer_id.endswith(suffix):
                assert SINGLE_AND_MULTI.get(printer_id[:-len(suffix)]) == printer_id, printer_id
    # The list and the web form show the name, so no two profiles share one.
    names = [p.name for p in profiles.values()]
    assert len(names) == len(set(names))


def test_unknown_printer_suggests_close_ids():
    with pytest.raises(InputError, match="bambu-a1"):
        get_printer("bambu-a2")


@pytest.mark.parametrize("printer_id", [p.id for p in list_printers()])
def test_largest_fit_is_inside_every_printer(printer_id):
    printer = get_printer(printer_id)
    placed, report = fit_to_build_volume(blob(), printer)
    assert inside_build_volume(placed, printer)
    assert placed.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    usable = printer.usable_size_mm
    assert np.all(placed.extents <= usable + 1e-6)
    assert np.any(placed.extents >= usable * 0.99) or printer.bed_shape == "circular"
    assert validate_mesh(placed).ok


def test_height_is_respected_and_flat_base_cut():
    placed, report = fit_to_build_volume(blob(), get_printer("prusa-mk4s"), height_mm=100)
    assert placed.extents[2] == pytest.approx(100.0)
    bottom = placed.vertices[:, 2] < 1e-6
    assert bottom.sum() >= 3 and report.base_cut_mm > 0  # a flat face to stand on
    centre = (placed.bounds[0, :2] + placed.bounds[1, :2]) / 2
    assert np.allclose(centre, get_printer("prusa-mk4s").bed_centre_mm)


@pytest.mark.parametrize("orientation, base_cut", [("photo", 0.03), ("stable", 0.1), ("photo", 0.0)])
def test_colours_carried_onto_a_placed_shape_are_the_ones_placing_the_coloured_mesh_gives(orientation, base_cut):
    """The pipeline places the shape while the colours are made, then carries them over: bit for bit
    what placing the coloured mesh gives, vertices the cut made included."""
    s = trimesh.creation.icosphere(4)
    s.apply_scale([1.0, 0.6, 1.6])
    s.apply_transform(trimesh.transformations.rotation_matrix(0.4, [1, 1, 0]))  # a slanted cut
    colours = np.random.default_rng(7).integers(0, 256, (len(s.vertices), 3), dtype=np.uint8)
    coloured = ColouredMesh(s.vertices, s.faces, colours)
    coloured = coloured.copy(face_colours=colours[s.faces].mean(axis=1).astype(np.uint8))
    printer = get_printer("bambu-a1")
    direct, _ = fit_to_build_volume(coloured, printer, orientation=orientation, base_cut=base_cut)
    shape, report = fit_to_build_volume(coloured.copy(vertex_colours=None, face_colours=None), printer,
                                        orientation=orientation, base_cut=base_cut)
    carried = with_colours_of(shape, report, coloured)
    assert np.array_equal(carried.vertices, direct.vertices) and np.array_equal(carried.faces, direct.faces)
    assert np.array_equal(carried.vertex_colours, direct.vertex_colours)
    assert np.array_equal(carried.face_colours, direct.face_colours)
    assert (report.vertex_origin is None) == (base_cut == 0)
    assert "vertex_origin" not in report.to_dict()


def test_too_tall_is_refused_with_sizes():
    with pytest.raises(InputError, match="largest height that fits"):
        fit_to_build_volume(blob(), get_printer("bambu-a1-mini"), height_mm=400)


def test_stable_orientation_rests_a_box_on_its_largest_face():
    box = trimesh.creation.box([10, 40, 80])  # tallest along z: unstable standing up
    mesh = ColouredMesh(box.vertices, box.faces, np.full((8, 3), 90, np.uint8))
    normals, probability = stable_poses(mesh.vertices, mesh.faces)
    assert len(normals) == 6 and probability[0] == pytest.approx(probability[1])
    placed, report = fit_to_build_volume(mesh, get_printer("bambu-a1"), orientation="stable", base_cut=0)
    assert np.argmin(placed.extents) == 2  # now lying on a 40 x 80 face


def test_bad_fit_options():
    with pytest.raises(InputError):
        fit_to_build_volume(blob(), get_printer("bambu-a1"), orientation="sideways")
    with pytest.raises(InputError):
        fit_to_build_volume(blob(), get_printer("bambu-a1"), height_mm=-5)
