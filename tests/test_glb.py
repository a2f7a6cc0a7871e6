"""The textured PBR asset: xatlas UVs, the colours baked into a base-colour texture, checked by the Khronos validator."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
import trimesh

from fabricate.export.textured import bake_textured, export_textured_glb, write_obj_with_texture
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.render import orbit_camera

from conftest import ROOT

VALIDATOR = ROOT / "tools" / "gltf-validator"


def khronos_report(path) -> dict:
    """The Khronos glTF validator's report (npm gltf-validator, installed by .ci/run)."""
    if shutil.which("node") is None or not (VALIDATOR / "node_modules" / "gltf-validator").is_dir():
        pytest.skip("the glTF validator is installed by .ci/run: (cd tools/gltf-validator && npm ci)")
    done = subprocess.run(["node", str(VALIDATOR / "validate.mjs"), str(path)], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout)


def painted_sphere(subdivisions: int = 4) -> ColouredMesh:
    """A sphere of radius 50 with smoothly varying vertex colours (a gradient in every direction)."""
    sphere = trimesh.creation.icosphere(subdivisions)
    v = np.asarray(sphere.vertices)
    colours = np.stack([128 + 100 * np.sin(2 * v[:, 0]), 128 + 100 * np.cos(2 * v[:, 1]), 128 + 90 * v[:, 2]], 1)
    return ColouredMesh(v * 50, sphere.faces, np.clip(colours, 0, 255).astype(np.uint8))


def cast(mesh: trimesh.Trimesh, camera):
    """(pixel index, triangle, barycentric) of each camera ray that hits ``mesh``."""
    h, w = camera.height, camera.width
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    offsets = ((jj - w / 2 + 0.5)[..., None] * camera.right - (ii - h / 2 + 0.5)[..., None] * camera.up) \
        * camera.pixel_size
    origins = (camera.centre + offsets - camera.forward * camera.pixel_size * max(h, w) * 2).reshape(-1, 3)
    tri, ray, points = mesh.ray.intersects_id(origins, np.broadcast_to(camera.forward, origins.shape),
                                              multiple_hits=False, return_locations=True)
    return ray, tri, trimesh.triangles.points_to_barycentric(mesh.triangles[tri], points)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def test_textured_glb_passes_the_khronos_validator_and_shows_the_colours(tmp_path):
    mesh = painted_sphere()
    path = tmp_path / "asset.glb"
    with open(path, "wb") as stream:
        export_textured_glb(mesh, stream, texture_size=512, asset_triangles=2000)
    report = khronos_report(path)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
    assert report["info"]["hasTextures"] and report["info"]["totalTriangleCount"] <= 2000

    loaded = trimesh.load(path, force="mesh", process=False)
    material = loaded.visual.material
    assert material.baseColorTexture is not None and material.metallicFactor == 0
    assert 0 < material.roughnessFactor <= 1
    uv = np.asarray(loaded.visual.uv)
    assert uv.min() >= 0 and uv.max() <= 1
    # Rendered unlit from a camera, the texture gives the surface's own colours back.
    texture = np.asarray(material.baseColorTexture.convert("RGB"))
    camera = orbit_camera(mesh.vertices, 30, 20, 256)
    full = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    ray_ref, tri_ref, bary_ref = cast(full, camera)
    reference = np.zeros((256 * 256, 3))
    reference[ray_ref] = (mesh.vertex_colours[mesh.faces[tri_ref]] * bary_ref[:, :, None]).sum(axis=1)
    ray, tri, bary = cast(loaded, camera)
    texel_uv = (uv[loaded.faces[tri]] * bary[:, :, None]).sum(axis=1)
    size = texture.shape[0]
    rows = np.clip(((1 - texel_uv[:, 1]) * size).astype(int), 0, size - 1)
    cols = np.clip((texel_uv[:, 0] * size).astype(int), 0, size - 1)
    rendered = np.zeros((256 * 256, 3))
    rendered[ray] = texture[rows, cols]
    inside = np.zeros(256 * 256, bool)
    inside[np.intersect1d(ray, ray_ref)] = True
    assert psnr(rendered[inside], reference[inside]) >= 25, psnr(rendered[inside], reference[inside])


def test_the_atlas_covers_half_the_texture_and_padding_fills_the_rest():
    asset = bake_textured(painted_sphere(), texture_size=512, max_triangles=3000)
    assert asset.covered >= 0.5
    assert len(asset.faces) <= 3000 and asset.uv.min() >= 0 and asset.uv.max() <= 1
    assert asset.metallic == 0
    # Padding: no texel is left black (the background) next to a chart.
    assert (asset.texture.sum(axis=2) > 0).all()


def test_obj_mtl_png_read_back_with_their_texture(tmp_path):
    written = write_obj_with_texture(tmp_path / "model.obj", painted_sphere(3), texture_size=256,
                                     asset_triangles=1000)
    assert sorted(p.rsplit("/", 1)[1] for p in written) == ["model.mtl", "model.obj", "model.texture.png"]
    loaded = trimesh.load(tmp_path / "model.obj", force="mesh", process=False)
    assert loaded.visual.kind == "texture" and loaded.visual.material.image is not None
    assert len(loaded.faces) <= 1000 and np.asarray(loaded.visual.uv).max() <= 1


def test_model_outputs_are_routed_by_their_suffix(tmp_path):
    from fabricate.errors import InputError
    from fabricate.export.formats import ALSO_FORMATS, output_file, output_format

    assert output_format("a/model.quad.obj") == "quad-obj" and output_format("model.OBJ") == "obj"
    assert output_format("model.glb") == "glb" and output_file("out/model", "quad-obj") == "out/model.quad.obj"
    assert "3mf" not in ALSO_FORMATS and {"glb", "obj", "quad-obj", "stl"} <= set(ALSO_FORMATS)
    with pytest.raises(InputError):
        output_format("model.fbx")


def front_camera(vertices: np.ndarray, rotation_z_deg: float, size: int = 384):
    """The photo's view of a model placed as photographed: it looked along the reconstruction's +y
    (fabricate/color/views.py), turned by the placement's quarter turn about z (fabricate/printing/fit.py)."""
    from fabricate.render import Camera

    t = np.radians(rotation_z_deg)
    forward = np.array([-np.sin(t), np.cos(t), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    right = np.cross(forward, up)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    radius = float(np.linalg.norm(hi - lo)) / 2
    return Camera(right, up, forward, (lo + hi) / 2, 2 * radius / (size * 0.9), size, size)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One model from a sample photo, delit, written with every asset beside its 3MF (as the CLI and the web do)."""
    from fabricate.pipeline import MakeOptions, make_model, write_outputs

    folder = tmp_path_factory.mktemp("made")
    options = MakeOptions(printer="bambu-a1", delight="auto", resolution=128, texture_size=1024,
                          asset_triangles=20_000)
    result = make_model(str(ROOT / "samples" / "hamburger.png"), options)
    written = write_outputs(result, folder / "burger.3mf", also=("glb", "obj", "quad-obj"))
    return result, folder, written


@pytest.mark.slow  # builds a model
def test_made_glb_is_textured_valid_and_shows_the_delit_colours(made):
    result, folder, written = made
    assert {p.rsplit("/", 1)[1] for p in written} >= {"burger.glb", "burger.obj", "burger.mtl", "burger.texture.png",
                                                       "burger.quad.obj", "burger.3mf"}
    path = folder / "burger.glb"
    report = khronos_report(path)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
    assert report["info"]["hasTextures"] and report["info"]["totalTriangleCount"] <= 20_000
    loaded = trimesh.load(path, force="mesh", process=False)
    material = loaded.visual.material
    texture = np.asarray(material.baseColorTexture.convert("RGB"))
    assert texture.shape == (1024, 1024, 3) and material.metallicFactor == 0
    uv = np.asarray(loaded.visual.uv)
    assert uv.min() >= 0 and uv.max() <= 1
    # Coverage: the texels inside a chart, rasterised again from the file's own UVs.
    from fabricate.export.textured import rasterise_charts

    assert (rasterise_charts(np.asarray(loaded.faces), uv, 1024) >= 0).mean() >= 0.5

    # From the photo's view, the textured asset shows the delit colours the model took from the photo.
    mesh = result.mesh
    camera = front_camera(mesh.vertices, result.fit.rotation_z_deg)
    full = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    ray_ref, tri_ref, bary_ref = cast(full, camera)
    n = camera.width * camera.height
    reference = np.zeros((n, 3))
    reference[ray_ref] = (mesh.vertex_colours[mesh.faces[tri_ref]] * bary_ref[:, :, None]).sum(axis=1)
    ray, tri, bary = cast(loaded, camera)
    texel_uv = (uv[loaded.faces[tri]] * bary[:, :, None]).sum(axis=1)
    rows = np.clip(((1 - texel_uv[:, 1]) * 1024).astype(int), 0, 1023)
    cols = np.clip((texel_uv[:, 0] * 1024).astype(int), 0, 1023)
    rendered = np.zeros((n, 3))
    rendered[ray] = texture[rows, cols]
    inside = np.zeros(n, bool)
    inside[np.intersect1d(ray, ray_ref)] = True
    assert inside.mean() > 0.1  # the object is in view
    measured = psnr(rendered[inside], reference[inside])
    print(f"textured GLB against the delit surface colours, from the photo's view: {measured:.1f} dB PSNR")
    if os.environ.get("FABRICATE_ARTIFACTS"):
        from PIL import Image

        side = camera.width
        Image.fromarray(np.hstack([reference.reshape(side, side, 3), rendered.reshape(side, side, 3)])
                        .astype(np.uint8)).save(ROOT / "tests" / "artifacts" / "glb_front_view.png")
    assert measured >= 25, measured


@pytest.mark.slow  # builds a model
def test_made_obj_and_quad_obj(made):
    from test_quad import check_quad_mesh

    from fabricate.export.quads import QuadMesh, canonical_polygons

    result, folder, _ = made
    loaded = trimesh.load(folder / "burger.obj", force="mesh", process=False)
    assert loaded.visual.kind == "texture" and len(loaded.faces) <= 20_000
    assert (folder / "burger.mtl").read_text().count("map_Kd burger.texture.png") == 1
    lines = (folder / "burger.quad.obj").read_text().splitlines()
    vertices = np.array([[float(x) for x in line.split()[1:4]] for line in lines if line.startswith("v ")])
    polygons = [[int(i) - 1 for i in line.split()[1:]] for line in lines if line.startswith("f ")]
    faces = canonical_polygons(np.array([p + p[-1:] * (4 - len(p)) for p in polygons]))
    check_quad_mesh(QuadMesh(vertices, faces, np.zeros((len(vertices), 3), np.uint8)), result.mesh)


def test_a_textured_glb_reads_back_closed_with_its_seams_joined(tmp_path):
    from fabricate.export.formats import load_mesh_file
    from fabricate.mesh import validate_mesh

    path = tmp_path / "asset.glb"
    with open(path, "wb") as stream:
        export_textured_glb(painted_sphere(), stream, texture_size=256, asset_triangles=1500)
    assert trimesh.load(path, force="mesh", process=False).is_watertight is False  # split along the seams
    assert validate_mesh(load_mesh_file(path)).ok


def test_an_obj_never_overwrites_a_photo_beside_it(tmp_path):
    from fabricate.errors import BadOption
    from fabricate.pipeline import check_outputs, output_paths

    photo = tmp_path / "robot.png"
    photo.write_bytes(b"photo")
    paths = output_paths(tmp_path / "robot.3mf", ("obj",))
    assert str(photo) not in paths.all() and str(tmp_path / "robot.texture.png") in paths.all()
    check_outputs(paths, [photo])
    texture = tmp_path / "robot.texture.png"
    texture.write_bytes(b"an input that happens to have the texture's name")
    with pytest.raises(BadOption):
        check_outputs(paths, [texture])
