"""Training data we make ourselves: shapes, rendered photos, the classical model's guess, true SDF targets.

Shapes: the training meshes in ../shared/meshes/train and seeded procedural ones
(ellipsoids, boxes, cylinders, cones, tori, CSG unions, revolved and extruded
profiles). Each sample is one rendered view; inputs and targets live on the grid of
the classical model at resolution 64, in the photo's frame.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree


LAYER_GRID = 128   # the 2D grid of depth layers (the classical model's grid at resolution 128)
GRID = 64          # the sparse 3D grid (every second layer-grid column, depth centred)
TRUNCATION = 4.0   # SDF values are clipped to +-4 voxels of the 3D grid
SHARED_MESHES = Path(__file__).resolve().parents[4] / "shared" / "meshes"
#: Real shapes for training (never the held-out folder).
TRAIN_FOLDERS = ("train", "paired")


def _rotation(rng) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _primitive(rng):
    import trimesh

    kind = rng.integers(0, 6)
    if kind == 0:
        mesh = trimesh.creation.icosphere(3)
        mesh.apply_scale(rng.uniform(0.4, 1.0, 3))
    elif kind == 1:
        mesh = trimesh.creation.box(rng.uniform(0.3, 1.5, 3))
    elif kind == 2:
        mesh = trimesh.creation.cylinder(rng.uniform(0.2, 0.6), rng.uniform(0.5, 1.8), sections=48)
    elif kind == 3:
        mesh = trimesh.creation.cone(rng.uniform(0.3, 0.7), rng.uniform(0.5, 1.5), sections=48)
    elif kind == 4:
        mesh = trimesh.creation.torus(rng.uniform(0.5, 0.8), rng.uniform(0.12, 0.3), major_sections=48,
                                      minor_sections=16)
    else:
        mesh = trimesh.creation.capsule(rng.uniform(0.4, 1.4), rng.uniform(0.15, 0.5), count=[24, 24])
    mesh.apply_transform(np.vstack([np.hstack([_rotation(rng), rng.uniform(-0.5, 0.5, (3, 1))]), [0, 0, 0, 1]]))
    return mesh


def procedural_shape(rng):
    """A seeded random solid: a primitive, a union of several, or a revolved/extruded profile."""
    import trimesh

    choice = rng.random()
    if choice < 0.35:
        mesh = _primitive(rng)
    elif choice < 0.7:
        from fabricate.manifold import as_manifold
        import manifold3d

        parts = [_primitive(rng) for _ in range(rng.integers(2, 5))]
        solids = [as_manifold(p.vertices, p.faces) for p in parts]
        union = manifold3d.Manifold.batch_boolean(solids, manifold3d.OpType.Add).to_mesh()
        mesh = trimesh.Trimesh(np.array(union.vert_properties)[:, :3], np.array(union.tri_verts), process=False)
    elif choice < 0.85:
        heights = np.sort(rng.uniform(-1, 1, rng.integers(4, 8)))
        radii = rng.uniform(0.1, 0.8, len(heights))
        profile = np.column_stack([np.concatenate([[0], radii, [0]]),
                                   np.concatenate([[heights[0]], heights, [heights[-1]]])])
        mesh = trimesh.creation.revolve(profile, sections=48)
    else:  # an extruded regular polygon: a prism
        mesh = trimesh.creation.cylinder(rng.uniform(0.3, 0.9), rng.uniform(0.2, 1.2), sections=int(rng.integers(3, 9)))
    mesh.apply_transform(np.vstack([np.hstack([_rotation(rng), np.zeros((3, 1))]), [0, 0, 0, 1]]))
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


def organic_shape(rng):
    """A seeded random organic solid: a blob (metaballs) or swept tubes, possibly on a body.

    Returns
    -------
    vertices (n, 3) float64, faces (m, 3) int64
    """
    import manifold3d

    if rng.random() < 0.5:  # metaballs: the 0.5 level of a sum of Gaussian bumps
        from skimage.measure import marching_cubes

        centres = rng.uniform(-0.6, 0.6, (int(rng.integers(3, 8)), 3))
        radii = rng.uniform(0.2, 0.5, len(centres))
        axis = np.linspace(-1.4, 1.4, 56)
        grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
        field = sum(np.exp(-((grid - c) ** 2).sum(-1) / r ** 2) for c, r in zip(centres, radii))
        if field.max() <= 0.5:
            raise ValueError("the blob is empty")
        vertices, faces, _, _ = marching_cubes(field, 0.5, spacing=(axis[1] - axis[0],) * 3)
        # The field grows inwards, for which marching_cubes winds faces inwards: reverse them.
        vertices, faces = vertices + axis[0], faces[:, ::-1]
    else:  # tubes swept along random paths (hulls of consecutive spheres), with an optional body
        parts = []
        if rng.random() < 0.6:
            body = manifold3d.Manifold.sphere(1.0, 32).scale(tuple(rng.uniform(0.3, 0.7, 3)))
            parts.append(body)
        for _ in range(int(rng.integers(1, 5))):
            points = np.cumsum(rng.normal(0, 0.35, (int(rng.integers(3, 6)), 3)), axis=0)
            radius = rng.uniform(0.06, 0.2)
            spheres = [manifold3d.Manifold.sphere(radius * rng.uniform(0.7, 1.3), 16).translate(tuple(p))
                       for p in points]
            parts += [manifold3d.Manifold.batch_hull([a, b]) for a, b in zip(spheres[:-1], spheres[1:])]
        solid = manifold3d.Manifold.batch_boolean(parts, manifold3d.OpType.Add).to_mesh()
        vertices, faces = np.array(solid.vert_properties)[:, :3], np.array(solid.tri_verts)
    rotation = _rotation(rng)
    return np.asarray(vertices, np.float64) @ rotation.T, np.asarray(faces, np.int64)


#: A grid point this far (voxels) from every surface sample takes the inside/outside label of
#: its nearest even-indexed neighbour (at most sqrt(3) away, so no surface lies between them).
LABEL_FROM_NEIGHBOUR = 2.5


def signed_distance_grid(vertices, faces, shape, truncation: float = TRUNCATION, seed: int = 0) -> np.ndarray:
    """Truncated signed distance on the integer grid ``shape``; inside by winding number.

    Distances are to dense surface samples, exact within the truncation band and
    +-truncation beyond. The winding number (robust on the many corpus meshes that are not
    closed) is the costly part, so it is computed exactly only near the surface and on every
    second grid point; the points in between, far from the surface, copy a neighbour.
    """
    import igl
    from scipy import ndimage

    from fabricate.sampling import sample_surface

    shape = tuple(shape)
    index = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), -1).reshape(-1, 3)
    grid = index.astype(np.float64)
    samples, _ = sample_surface(vertices, faces, 40000, seed)
    distance, _ = cKDTree(samples).query(grid, distance_upper_bound=max(truncation, LABEL_FROM_NEIGHBOUR) + 1e-6,
                                         workers=-1)
    winding = lambda points: np.abs(igl.fast_winding_number(np.ascontiguousarray(vertices, np.float64),
                                                            np.ascontiguousarray(faces), points)) >= 0.5
    even = tuple(slice(0, n, 2) for n in shape)
    coarse = winding(grid.reshape(*shape, 3)[even].reshape(-1, 3)).reshape([len(range(0, n, 2)) for n in shape])
    nearest = np.minimum(np.round(index / 2).astype(int), np.array(coarse.shape) - 1)
    inside = coarse[nearest[:, 0], nearest[:, 1], nearest[:, 2]]
    near = distance <= LABEL_FROM_NEIGHBOUR
    if near.any():
        inside[near] = winding(grid[near])
    inside = inside.reshape(shape)
    boundary = inside ^ ndimage.binary_erosion(inside, border_value=0)
    boundary |= ndimage.binary_dilation(inside) & ~inside
    band = ndimage.binary_dilation(boundary, iterations=int(np.ceil(truncation)) + 1)
    result = np.where(inside, -truncation, truncation).astype(np.float64)
    distance = distance.reshape(shape)
    result[band] = np.where(inside[band], -1, 1) * np.minimum(distance[band], truncation)
    return result


def model_inputs(classical, foreground):
    """The photo and the classical model's depth layers on the learned model's 2D grid.

    Returns
    -------
    image : (LAYER_GRID, LAYER_GRID, 4) uint8, colours and matte indexed [x, z]
    guess : (2, LAYER_GRID, LAYER_GRID) float32, classical front and back (voxels from the middle plane)
    layers : DepthLayers on the classical grid at LAYER_GRID (unpadded)
    """
    layers = classical.depth_layers(foreground, LAYER_GRID)
    nx, nz = (min(s, LAYER_GRID) for s in layers.mask.shape)
    image = np.zeros((LAYER_GRID, LAYER_GRID, 4), np.uint8)
    image[:nx, :nz, :3] = layers.rgb[:nx, :nz]
    image[:nx, :nz, 3] = np.round(layers.alpha[:nx, :nz] * 255)
    guess = np.zeros((2, LAYER_GRID, LAYER_GRID), np.float32)
    guess[0, :nx, :nz] = layers.front[:nx, :nz]
    guess[1, :nx, :nz] = layers.back[:nx, :nz]
    return image, guess, layers


def outline_on_grid(matte: np.ndarray) -> np.ndarray:
    """Signed distance to the silhouette on the 3D grid's columns (64-grid voxels, negative inside).

    ``matte`` is the layer grid's (LAYER_GRID, LAYER_GRID) alpha (uint8 or [0, 1]).
    """
    from scipy import ndimage

    step = LAYER_GRID // GRID
    inside = np.asarray(matte, np.float32)[::step, ::step] >= (127.5 if np.asarray(matte).dtype == np.uint8 else 0.5)
    return (ndimage.distance_transform_edt(~inside) - ndimage.distance_transform_edt(inside)).astype(np.float32)


def column_rays(camera, photo_from_voxel, shape):
    """World origins (on the camera's centre plane) of every grid column (x, z)."""
    x, z = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    col = photo_from_voxel[0, 0] * x + photo_from_voxel[0, 3]
    row = photo_from_voxel[1, 2] * z + photo_from_voxel[1, 3]
    return (camera.centre + ((col - camera.width / 2 + 0.5) * camera.pixel_size)[..., None] * camera.right
            - ((row - camera.height / 2 + 0.5) * camera.pixel_size)[..., None] * camera.up).reshape(-1, 3)


def true_layers(vertices, faces, camera, photo_from_voxel, shape):
    """First and last surface along every grid column, in voxels from the camera's centre plane.

    Returns
    -------
    first, last : (nx, nz) float, signed depth along the view (NaN where the column misses)
    """
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    origins = column_rays(camera, photo_from_voxel, shape)
    far = camera.pixel_size * max(camera.width, camera.height) * 2
    scale = 1.0 / photo_from_voxel[0, 0]  # voxels per photo pixel
    out = []
    for sign in (1.0, -1.0):
        start = origins - sign * far * camera.forward
        direction = np.broadcast_to(sign * camera.forward, start.shape)
        _, ray, where = mesh.ray.intersects_id(start, direction, multiple_hits=False, return_locations=True)
        depth = np.full(len(origins), np.nan)
        depth[ray] = (where - camera.centre) @ camera.forward / camera.pixel_size * scale
        out.append(depth.reshape(shape))
    return out[0], out[1]


@dataclass(frozen=True)
class ViewRanges:
    """How the rendered training views vary: every range in one place.

    The first round's data used the defaults; the corpus uses :data:`CORPUS_VIEWS`.
    """

    elevation_deg: tuple = (-10.0, 35.0)
    perspective_share: float = 0.0       # of views taken with a perspective camera
    focal_mm: tuple = (35.0, 200.0)      # 35 mm-equivalent, drawn log-uniformly
    ambient: tuple = (0.35, 0.35)
    specular_share: float = 0.0          # of views with a white highlight
    specular: tuple = (0.2, 0.7)
    own_colour_share: float = 0.0        # of views of a coloured mesh painted in its own colours


CORPUS_VIEWS = ViewRanges(elevation_deg=(0.0, 40.0), perspective_share=0.25, ambient=(0.1, 0.45),
                          specular_share=0.4, own_colour_share=0.7)


def make_sample(vertices, faces, rng, size: int = 256, up_axis: int = None, face_colours=None,
                ranges: ViewRanges = ViewRanges()) -> dict:
    """Render one seeded view; the model's inputs and the true depth layers and SDF on its grids.

    The truth is centred along the view like the evaluation centres it (middle of its
    depth extent on the middle plane), since one photo cannot tell absolute depth. A
    perspective view is scored against the object's true (orthographic) shape: the model
    learns to undo the foreshortening a phone's lens adds.

    Parameters
    ----------
    face_colours : (m, 3) uint8, optional
        The mesh's own colours; used for ``ranges.own_colour_share`` of views, random paint otherwise.
    """
    from fabricate.render import orbit_camera, random_albedo, render_mesh
    from fabricate.image import extract_foreground, load_photo
    from fabricate.reconstruct.classical import ClassicalReconstructor

    up_axis = int(rng.integers(0, 3)) if up_axis is None else up_axis
    azimuth, elevation = rng.uniform(0, 360), rng.uniform(*ranges.elevation_deg)
    focal = None
    if ranges.perspective_share and rng.random() < ranges.perspective_share:
        focal = float(np.exp(rng.uniform(*np.log(ranges.focal_mm))))
    camera = orbit_camera(vertices, azimuth, elevation, size, up_axis=up_axis, focal_mm=focal)
    albedo = random_albedo(vertices, faces, rng, up_axis=up_axis)
    if face_colours is not None and ranges.own_colour_share and rng.random() < ranges.own_colour_share:
        albedo = np.asarray(face_colours, np.uint8)[:, :3]
    light = -camera.forward + camera.up * rng.uniform(0.2, 1.0) + camera.right * rng.uniform(-0.8, 0.8)
    ambient, specular = ranges.ambient[0], 0.0
    if ranges.ambient[1] > ranges.ambient[0]:
        ambient = rng.uniform(*ranges.ambient)
    if ranges.specular_share and rng.random() < ranges.specular_share:
        specular = rng.uniform(*ranges.specular)
    render = render_mesh(vertices, faces, camera, albedo, light, ambient=ambient, specular=specular)
    buffer = io.BytesIO()
    Image.fromarray(render.rgba()).save(buffer, format="PNG")
    foreground = extract_foreground(load_photo(buffer.getvalue(), "render.png"))
    image, guess, layers = model_inputs(ClassicalReconstructor(), foreground)
    first, last = true_layers(vertices, faces, camera, layers.photo_from_voxel, (LAYER_GRID, LAYER_GRID))
    hit = np.isfinite(first) & np.isfinite(last)
    if hit.sum() < 20:
        raise ValueError("the view misses the object")
    middle = (np.nanmin(first[hit]) + np.nanmax(last[hit])) / 2
    truth = np.stack([np.where(hit, middle - first, 0.0), np.where(hit, last - middle, 0.0)])
    # The 3D target: x and z every second layer-grid column, depth centred on the grid.
    photo = camera.to_photo_frame(vertices)
    pfv = layers.photo_from_voxel
    scale = 1.0 / pfv[0, 0]
    points = np.column_stack([(photo[:, 0] - pfv[0, 3]) / pfv[0, 0],
                              photo[:, 2] * scale - middle,
                              (photo[:, 1] - pfv[1, 3]) / pfv[1, 2]])
    ratio = LAYER_GRID / GRID
    points = points / ratio + np.array([0.0, GRID / 2, 0.0])
    target = signed_distance_grid(points, faces, (GRID, GRID, GRID))
    half = lambda a: np.asarray(a, np.float16)
    return {"image": image, "guess": half(guess), "truth": half(truth), "hit": hit,
            "target": half(np.clip(target, -TRUNCATION, TRUNCATION))}
