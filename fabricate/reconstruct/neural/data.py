"""Training data we make ourselves: shapes, rendered photos, the classical model's guess, true SDF targets.

Shapes: the training meshes in ../shared/meshes/train and seeded procedural ones
(ellipsoids, boxes, cylinders, cones, tori, CSG unions, revolved and extruded
profiles). Each sample is one rendered view; inputs and targets live on the grid of
the classical model at resolution 64, in the photo's frame.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree

GRID = 64          # the learned model's working grid (classical resolution 64)
TRUNCATION = 4.0   # SDF values are clipped to +-4 voxels of that grid
TRAIN_MESHES = Path(__file__).resolve().parents[4] / "shared" / "meshes" / "train"


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
        from fabricate.mesh.manifold import as_manifold
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


def signed_distance_grid(vertices, faces, shape, truncation: float = TRUNCATION, seed: int = 0) -> np.ndarray:
    """Truncated signed distance on the integer grid ``shape``; inside by winding number.

    Exact distances (to dense surface samples) only within the truncation band, found
    from where the inside/outside labels change; elsewhere +-truncation.
    """
    import igl
    from scipy import ndimage

    from fabricate.evaluate.metrics import sample_surface

    grid = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), -1).reshape(-1, 3).astype(np.float64)
    inside = (np.abs(igl.fast_winding_number(np.ascontiguousarray(vertices), np.ascontiguousarray(faces), grid))
              >= 0.5).reshape(shape)
    boundary = inside ^ ndimage.binary_erosion(inside, border_value=0)
    boundary |= ndimage.binary_dilation(inside) & ~inside
    band = ndimage.binary_dilation(boundary, iterations=int(np.ceil(truncation)) + 1)
    result = np.where(inside, -truncation, truncation).astype(np.float64)
    if band.any():
        samples, _ = sample_surface(vertices, faces, 40000, seed)
        distance, _ = cKDTree(samples).query(grid[band.ravel()], workers=-1)
        result[band] = np.where(inside[band], -1, 1) * np.minimum(distance, truncation)
    return result


def model_inputs(classical, foreground):
    """The classical guess and the photo on the model's 64^3 grid.

    Returns
    -------
    cube : (64, 64, 64) float32, the classical SDF clipped to +-TRUNCATION
    image : (64, 64, 4) uint8, colours and matte indexed [x, z]
    dense : the classical SDF on its own grid (before padding or cropping to 64^3)
    photo_from_voxel : (4, 4), the grid's map to the photo frame
    """
    reconstruction = classical.reconstruct(foreground, GRID)
    alpha, rgb = classical.grid_inputs(foreground, GRID)
    dense = reconstruction.volume.to_dense()
    nx, ny, nz = (min(s, GRID) for s in dense.shape)
    cube = np.full((GRID, GRID, GRID), TRUNCATION, np.float32)
    cube[:nx, :ny, :nz] = np.clip(dense[:nx, :ny, :nz], -TRUNCATION, TRUNCATION)
    image = np.zeros((GRID, GRID, 4), np.uint8)
    image[:nx, :nz, :3] = rgb[:nx, :nz]
    image[:nx, :nz, 3] = np.round(alpha[:nx, :nz] * 255)
    return cube, image, dense, reconstruction.photo_from_voxel


def make_sample(vertices, faces, rng, size: int = 256) -> dict:
    """Render one seeded view and build the model's inputs and the true SDF on its grid."""
    from fabricate.evaluate.render import orbit_camera, random_albedo, render_mesh
    from fabricate.image import extract_foreground, load_photo
    from fabricate.reconstruct.classical import ClassicalReconstructor

    camera = orbit_camera(vertices, rng.uniform(0, 360), rng.uniform(-10, 35), size, up_axis=int(rng.integers(0, 3)))
    albedo = random_albedo(vertices, faces, rng)
    light = -camera.forward + camera.up * rng.uniform(0.2, 1.0) + camera.right * rng.uniform(-0.8, 0.8)
    render = render_mesh(vertices, faces, camera, albedo, light)
    buffer = io.BytesIO()
    Image.fromarray(render.rgba()).save(buffer, format="PNG")
    foreground = extract_foreground(load_photo(buffer.getvalue(), "render.png"))
    cube, image, dense, photo_from_voxel = model_inputs(ClassicalReconstructor(), foreground)
    # Ground truth in the classical grid's frame; depth centred like the evaluation does.
    truth = np.linalg.solve(photo_from_voxel, np.vstack([camera.to_photo_frame(vertices).T,
                                                        np.ones(len(vertices))]))[:3].T
    surface = np.argwhere(np.abs(dense) < 1.0)
    if len(surface):
        truth[:, 1] += (surface[:, 1].min() + surface[:, 1].max()) / 2 - (truth[:, 1].min() + truth[:, 1].max()) / 2
    target = signed_distance_grid(truth, faces, (GRID, GRID, GRID))
    clip = lambda a: np.clip(a, -TRUNCATION, TRUNCATION).astype(np.float16)
    return {"classical": clip(cube), "image": image, "target": clip(target)}


def build_dataset(out_dir, procedural: int = 600, views_per_mesh: int = 12, seed: int = 0, report=None,
                  reverse: bool = False) -> int:
    """Write samples as .npz files (seeded by index); returns how many there are.

    Existing samples are kept, so an interrupted build resumes, and a second process
    with ``reverse=True`` can work from the other end of the list at the same time.
    """
    import trimesh

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [("proc", i) for i in range(procedural)]
    meshes = sorted(TRAIN_MESHES.glob("*.obj")) if TRAIN_MESHES.is_dir() else []
    jobs += [(str(path), v) for path in meshes for v in range(views_per_mesh)]
    written = 0
    numbered = list(enumerate(jobs))
    for index, (source, number) in (reversed(numbered) if reverse else numbered):
        target = out / f"{index:05d}.npz"
        if target.exists():
            written += 1
            continue
        rng = np.random.default_rng([seed, index])
        try:
            if source == "proc":
                vertices, faces = procedural_shape(rng)
            else:
                mesh = trimesh.load(source, force="mesh", process=False)
                vertices, faces = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
            sample = make_sample(vertices, faces, rng)
        except Exception:  # a degenerate random shape: skip it, deterministically
            continue
        partial = out / f".partial-{index:05d}.npz"
        with open(partial, "wb") as handle:
            np.savez_compressed(handle, **sample)
        partial.replace(target)
        written += 1
        if report:
            report(index + 1, len(jobs))
    return written
