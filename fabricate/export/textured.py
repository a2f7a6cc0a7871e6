"""Textured assets for engines and editors: a UV atlas, the colours baked into a base-colour texture.

The printed model keeps its dense, vertex- and face-coloured triangles; an engine wants
few triangles and a texture. :func:`bake_textured` decimates a copy to its own budget,
unwraps it with xatlas (MIT), rasterises every chart into texel space, samples the
full-resolution surface's colour on a small triangular lattice on each triangle (one
nearest-neighbour query per lattice point, not per texel) and interpolates it across the
texels, then pads every empty texel with the colour of the nearest chart texel (so
filtering and mipmaps across a seam never bleed the background in). The PBR material is
dielectric (metallic 0) with a constant matte roughness (:data:`MATTE_ROUGHNESS`; not
measured). :func:`export_textured_glb` writes it as binary glTF;
:func:`write_obj_with_texture` as OBJ + MTL + PNG.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from fabricate.mesh.coloured_mesh import ColouredMesh

#: Base-colour texture size in texels (square), and the sizes accepted.
DEFAULT_TEXTURE_SIZE = 2048
TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)
#: Triangles in the textured asset (the 3MF keeps its own budget), and the most accepted: the
#: unwrap and bake grow with it (about 5 s at 50,000 on two shared cores).
DEFAULT_ASSET_TRIANGLES = 50_000
MAX_ASSET_TRIANGLES = 200_000
#: Texels left empty around each chart by the packer, filled by the padding (against seams:
#: bilinear filtering and the first mipmap level stay inside a chart's own colours).
CHART_PADDING_TEXELS = 3
#: The packer works on a grid this many times coarser than the texture, trying every place
#: (bruteForce). Measured on a 50k-triangle burger at 2048 texels (2 shared cores): 52 % of the
#: texture covered in 2.6 s; its quick heuristic at full resolution 44 % in 1.8 s; brute force at
#: full resolution 52 % in 38 s.
PACK_COARSENING = 3
#: Charts are kept to about this many triangles' share of the surface: xatlas grows unbounded
#: charts slowly (20 s for a smooth 50k-triangle sphere in 8 charts, 1.6 s with charts of
#: 1/256 of its area); fewer, larger charts waste less texture on padding. Measured on four
#: samples (hamburger, robot, teapot, chair) at 1024 texels / 20k triangles and 2048 / 50k: 500
#: covered 49.6-59.4 % of the texture (mean 54.6 and 54.3 %), 700 covers 52.3-60.2 % (55.8 and
#: 54.2 %), the unwrap taking a quarter longer (2048 / 50k: 2.8 -> 3.5 s).
CHART_TRIANGLES = 700
#: Roughness of a print-like matte surface, when nothing better is known (glTF: 1 is fully rough).
MATTE_ROUGHNESS = 0.8
#: Nearest full-resolution vertices blended (inverse distance) for each colour sample.
COLOUR_NEIGHBOURS = 4
#: Most colour samples along each edge of an asset triangle (see :func:`lattice_steps`).
MAX_LATTICE_STEPS = 8
#: The light grey a mesh without colours is baked in.
UNCOLOURED = 200.0
#: zlib level of the texture PNG: at 2048 texels level 1 encodes in 0.16 s against 0.51 s at
#: Pillow's default (6), for 28 % more bytes (hamburger: 2.4 MB against 1.9 MB).
TEXTURE_PNG_LEVEL = 1


@dataclass
class TexturedMesh:
    """A mesh with one UV per vertex and a base-colour image.

    Attributes
    ----------
    vertices : (n, 3) float
    faces : (m, 3) int
    uv : (n, 2) float
        In [0, 1], origin at the image's bottom-left (OpenGL; trimesh flips it for glTF).
    texture : (s, s, 3) uint8
    covered : float
        Share of the texture's texels inside a chart (the rest is padding).
    roughness, metallic : float
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    texture: np.ndarray
    covered: float
    roughness: float = MATTE_ROUGHNESS
    metallic: float = 0.0


def surface_colour_lookup(mesh: ColouredMesh):
    """A function (p, 3) points -> (p, 3) float colours of ``mesh`` nearest them (vertex colours, else face colours)."""
    from scipy.spatial import cKDTree

    if mesh.vertex_colours is not None:
        sites, colours = mesh.vertices, mesh.vertex_colours.astype(np.float64)
    elif mesh.face_colours is not None:
        sites, colours = mesh.vertices[mesh.faces].mean(axis=1), mesh.face_colours.astype(np.float64)
    else:
        return lambda points: np.full((len(points), 3), UNCOLOURED)
    tree = cKDTree(sites)
    neighbours = min(COLOUR_NEIGHBOURS, len(sites))

    def lookup(points: np.ndarray) -> np.ndarray:
        distance, index = tree.query(points, k=neighbours, workers=-1)
        if neighbours == 1:
            return colours[index]
        weight = 1.0 / np.maximum(distance, 1e-9)
        return (colours[index] * weight[..., None]).sum(axis=1) / weight.sum(axis=1, keepdims=True)

    return lookup


def unwrap(vertices: np.ndarray, faces: np.ndarray, texture_size: int):
    """xatlas: (vertex_map, faces, uv) of the atlas; vertices split along seams (vertex_map points to the originals).

    The packer works on a grid :data:`PACK_COARSENING` times coarser than the texture, at its
    own scale (somewhat larger when the charts do not fit it), and the UVs are scaled to
    [0, 1]: the padding comes out at about :data:`CHART_PADDING_TEXELS` of the texture's texels.
    """
    import xatlas

    atlas = xatlas.Atlas()
    atlas.add_mesh(np.ascontiguousarray(vertices, np.float32), np.ascontiguousarray(faces, np.uint32))
    charts = xatlas.ChartOptions()
    corners = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1).sum()
    charts.max_chart_area = float(area * min(1.0, CHART_TRIANGLES / len(faces)))
    pack = xatlas.PackOptions()
    pack.resolution = max(int(texture_size) // PACK_COARSENING, 64)
    pack.padding = max(int(np.ceil(CHART_PADDING_TEXELS * pack.resolution / texture_size)), 1)
    # The padding above (CHART_PADDING_TEXELS at full resolution) already covers what bilinear
    # filtering and the first mipmap level read past a chart's edge; xatlas's own bilinear
    # margin would add another coarse texel (3 full ones) around every chart. Without it, same
    # run: hamburger at 1024 texels / 20k triangles 49.8 % -> 50.4 % covered, at 2048 / 50k
    # 53.5 % -> 55.4 %.
    pack.bilinear = False
    pack.bruteForce = True
    atlas.generate(chart_options=charts, pack_options=pack)
    vertex_map, new_faces, uv = atlas[0]
    return vertex_map.astype(np.int64), new_faces.astype(np.int64), np.clip(uv.astype(np.float64), 0.0, 1.0)


def rasterise_charts(faces: np.ndarray, uv: np.ndarray, size: int) -> np.ndarray:
    """(size, size) int32: the triangle covering each texel (row 0 at v = 1), -1 outside every chart.

    cv2 fills the pixels whose centres lie inside and those the edges pass through (the texels
    bilinear filtering reads at a chart's border), later triangles over earlier ones.
    """
    import cv2

    ids = np.full((size, size), -1, np.int32)
    # Texel (row, col) has its centre at uv ((col + 0.5) / size, 1 - (row + 0.5) / size); cv2 works on
    # pixel centres, in fixed point with 4 fractional bits.
    corners = np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5], axis=-1)[faces]
    fixed = np.round(corners * 16).astype(np.int32)
    for index, triangle in enumerate(fixed):
        cv2.fillConvexPoly(ids, triangle, int(index), lineType=cv2.LINE_8, shift=4)
    return ids


def texel_barycentrics(ids: np.ndarray, faces: np.ndarray, uv: np.ndarray):
    """Each chart texel's triangle and barycentric coordinates (w1, w2) there: (rows, cols, triangle, w1, w2).

    One affine map per triangle from texel (column, row) to (w1, w2), evaluated per texel in
    float32; a texel the rasteriser gave a triangle whose centre lies a hair outside it is
    clipped onto its edge.
    """
    size = ids.shape[0]
    rows, cols = np.nonzero(ids >= 0)
    triangle = ids[rows, cols]
    # Texel centres in the texture's pixel frame: x = u * size - 0.5, y = (1 - v) * size - 0.5.
    corners = np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5], axis=-1)[faces]  # (m, 3, 2)
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    determinant = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    flat = np.abs(determinant) < 1e-9  # no area in uv: drawn as a line, coloured at its centre
    inverse = np.where(flat, 0.0, 1.0 / np.where(flat, 1.0, determinant))
    # (w1, w2) = inverse([e1 e2]) (p - corner 0), as w = a * x + b * y + c per triangle.
    a1, b1 = e2[:, 1] * inverse, -e2[:, 0] * inverse
    a2, b2 = -e1[:, 1] * inverse, e1[:, 0] * inverse
    x0, y0 = corners[:, 0, 0], corners[:, 0, 1]
    c1 = np.where(flat, 1 / 3, -(a1 * x0 + b1 * y0))
    c2 = np.where(flat, 1 / 3, -(a2 * x0 + b2 * y0))
    coefficients = np.stack([a1, b1, c1, a2, b2, c2], axis=1).astype(np.float32)[triangle]
    x, y = cols.astype(np.float32), rows.astype(np.float32)
    w1 = np.maximum(coefficients[:, 0] * x + coefficients[:, 1] * y + coefficients[:, 2], 0)
    w2 = np.maximum(coefficients[:, 3] * x + coefficients[:, 4] * y + coefficients[:, 5], 0)
    total = np.maximum(w1 + w2, 1)
    return rows, cols, triangle, w1 / total, w2 / total


def lattice_steps(source_faces: int, asset_faces: int, texels: int) -> int:
    """Colour samples along each asset triangle's edge: about one per source triangle's edge, plus one.

    A decimated triangle spans about sqrt(source / asset) source edges; sampling finer
    than the texels it covers gains nothing.
    """
    by_source = int(np.ceil(np.sqrt(max(source_faces, 1) / max(asset_faces, 1)))) + 1
    by_texels = int(np.ceil(np.sqrt(2.0 * texels / max(asset_faces, 1))))
    return int(np.clip(min(by_source, by_texels), 1, MAX_LATTICE_STEPS))


def lattice_colours(lookup, corners: np.ndarray, steps: int) -> tuple:
    """The source colours at a triangular lattice on every triangle: ((m, points, 3) colours, index table).

    ``index[i, j]`` is the lattice point at barycentric (w1, w2) = (i, j) / steps (-1 where i + j > steps).
    """
    i, j = np.nonzero(np.add.outer(np.arange(steps + 1), np.arange(steps + 1)) <= steps)
    index = np.full((steps + 1, steps + 1), -1, np.int64)
    index[i, j] = np.arange(len(i))
    w1, w2 = i / steps, j / steps
    weights = np.stack([1.0 - w1 - w2, w1, w2], axis=1)  # (points, 3)
    points = np.einsum("pk,mkd->mpd", weights, corners)
    return lookup(points.reshape(-1, 3)).reshape(len(corners), len(i), 3), index


def interpolate_lattice(colours: np.ndarray, index: np.ndarray, triangle: np.ndarray,
                        w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Each texel's colour, linear across the lattice cell its barycentric coordinates (w1, w2) fall in."""
    steps = index.shape[0] - 1
    x, y = w1 * steps, w2 * steps
    i = np.clip(np.floor(x).astype(np.int64), 0, steps - 1)
    j = np.clip(np.floor(y).astype(np.int64), 0, steps - 1)
    fx, fy = x - i, y - j
    past = i + j > steps - 1  # on the far edge exactly: the same point in the cell before
    i, fx = np.where(past, i - 1, i), np.where(past, fx + 1, fx)
    upper = (fx + fy > 1) & (i + j <= steps - 2)
    # Lower cell (i, j), (i+1, j), (i, j+1); upper cell (i+1, j+1), (i, j+1), (i+1, j).
    first = np.where(upper, index[i + 1, np.minimum(j + 1, steps)], index[i, j])
    second, third = index[np.minimum(i + 1, steps), j], index[i, np.minimum(j + 1, steps)]
    a = np.where(upper, fx + fy - 1, 1 - fx - fy)
    b = np.where(upper, 1 - fy, fx)
    c = np.where(upper, 1 - fx, fy)
    flat = colours.reshape(-1, 3).astype(np.float32)
    base = triangle * colours.shape[1]
    return flat[base + first] * a[:, None] + flat[base + second] * b[:, None] + flat[base + third] * c[:, None]


def pad_texture(texture: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Every texel outside the charts takes the colour of the nearest chart texel (edge padding)."""
    from scipy import ndimage

    if inside.all() or not inside.any():
        return texture
    _, (near_rows, near_cols) = ndimage.distance_transform_edt(~inside, return_indices=True)
    return texture[near_rows, near_cols]


def bake_textured(mesh: ColouredMesh, texture_size: int = DEFAULT_TEXTURE_SIZE,
                  max_triangles: int = DEFAULT_ASSET_TRIANGLES, roughness: float = MATTE_ROUGHNESS) -> TexturedMesh:
    """The textured asset of ``mesh``: decimated to ``max_triangles``, unwrapped, its colours baked.

    Parameters
    ----------
    mesh
        The finished model (its vertex colours, else its face colours, are baked).
    texture_size
        Texels along each side of the square base-colour image.
    max_triangles
        The asset's triangle budget.
    roughness
        The material's roughness: a constant, :data:`MATTE_ROUGHNESS` (printed plastic is
        matte; nothing measures it from the photos yet).
    """
    from fabricate.mesh.simplify import simplify_mesh

    lookup = surface_colour_lookup(mesh)
    low = simplify_mesh(mesh, max_triangles)
    vertex_map, faces, uv = unwrap(low.vertices, low.faces, texture_size)
    vertices = low.vertices[vertex_map]
    ids = rasterise_charts(faces, uv, texture_size)
    rows, cols, triangle, w1, w2 = texel_barycentrics(ids, faces, uv)
    steps = lattice_steps(len(mesh.faces), len(faces), len(rows))
    colours, index = lattice_colours(lookup, vertices[faces], steps)
    texture = np.zeros((texture_size, texture_size, 3), np.uint8)
    texture[rows, cols] = np.clip(np.round(interpolate_lattice(colours, index, triangle, w1, w2)), 0, 255)
    inside = ids >= 0
    texture = pad_texture(texture, inside)
    return TexturedMesh(vertices, faces, uv, texture, float(inside.mean()), roughness)


def to_trimesh(asset: TexturedMesh):
    """A trimesh with the asset's UVs and a glTF metallic-roughness material."""
    import trimesh
    from PIL import Image
    from trimesh.visual.material import PBRMaterial
    from trimesh.visual.texture import TextureVisuals

    texture = Image.fromarray(asset.texture)
    # Pillow takes an image's own encoderinfo when trimesh saves it (trimesh passes no PNG options).
    texture.encoderinfo = {"compress_level": TEXTURE_PNG_LEVEL}
    material = PBRMaterial(name="albedo", baseColorTexture=texture,
                           metallicFactor=float(asset.metallic), roughnessFactor=float(asset.roughness),
                           doubleSided=False)
    return trimesh.Trimesh(asset.vertices, asset.faces, process=False,
                           visual=TextureVisuals(uv=asset.uv, material=material))


def export_textured_glb(mesh: ColouredMesh, stream, texture_size: int = DEFAULT_TEXTURE_SIZE,
                        asset_triangles: int = DEFAULT_ASSET_TRIANGLES, **_details) -> None:
    """Binary glTF 2.0 with a base-colour texture and a PBR material (game engines, the web preview)."""
    stream.write(to_trimesh(bake_textured(mesh, texture_size, asset_triangles)).export(file_type="glb"))


#: The files beside ``NAME.obj``: its material and its texture (not ``NAME.png``: that is often the photo itself).
OBJ_COMPANIONS = (".mtl", ".texture.png")


def obj_files(path) -> list:
    """``[NAME.obj, NAME.mtl, NAME.texture.png]``: every file :func:`write_obj_with_texture` writes for ``path``."""
    base = os.path.splitext(os.fspath(path))[0]
    return [os.fspath(path)] + [base + suffix for suffix in OBJ_COMPANIONS]


def write_obj_with_texture(path, mesh: ColouredMesh, texture_size: int = DEFAULT_TEXTURE_SIZE,
                           asset_triangles: int = DEFAULT_ASSET_TRIANGLES, **_details) -> list:
    """``NAME.obj`` + ``NAME.mtl`` + ``NAME.texture.png`` (Blender and other editors); returns the three paths.

    Each file appears only once complete (written under a temporary name, then renamed),
    the OBJ last, so an OBJ beside its material is complete.
    """
    from PIL import Image

    from fabricate.atomic import write_bytes_atomic

    asset = bake_textured(mesh, texture_size, asset_triangles)
    obj_path, mtl_path, png_path = obj_files(path)
    image = io.BytesIO()
    Image.fromarray(asset.texture).save(image, format="PNG", compress_level=TEXTURE_PNG_LEVEL)
    material = (f"# fabricate: the object's colours as a base-colour texture\nnewmtl albedo\nKa 0 0 0\nKd 1 1 1\n"
                f"Ks 0 0 0\nNs 0\nillum 1\nPr {asset.roughness:g}\nPm {asset.metallic:g}\n"
                f"map_Kd {os.path.basename(png_path)}\n")
    lines = [f"# fabricate textured mesh: {len(asset.faces)} triangles", f"mtllib {os.path.basename(mtl_path)}",
             "usemtl albedo"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in asset.vertices]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in asset.uv]
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in face) for face in asset.faces]
    for target, data in ((png_path, image.getvalue()), (mtl_path, material.encode()),
                         (obj_path, ("\n".join(lines) + "\n").encode())):
        write_bytes_atomic(target, data)
    return [png_path, mtl_path, obj_path]
