"""How much better could a single-photo model score, and from what? Oracle depth layers on training meshes.

Renders the *training* meshes (never the held-out ones) like `fabricate eval` does, then
scores surfaces built by the classical model's own machinery (`surface_from_layers`)
from depth layers in which one part is replaced by the truth (ray-cast front and back
surfaces, centred along the view like the evaluation centres them):

- classical: the inflation's front and back (the baseline, same run)
- true front and back: the ceiling of any front/back (two-layer) prediction
- true front, classical thickness: where the visible surface really is, parts and all
- classical front, true thickness: only how deep the object is at each pixel
- classical shape, true overall thickness: one depth scale per photo
- true front slopes only: the truth's surface normals, integrated (what shading alone can give)
- true front, classical back

It tells which prediction a learned model must get right to beat the inflation.

With ``--corpus-validation`` it renders the corpus's validation split instead (objects held
back from training by category), and when the learned model is installed a row shows where
its predicted layers stand between the classical ones and the ceilings.

    python benchmarks/depth_layer_ceilings.py [--views 1] [--resolution 128] [--corpus-validation]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

ROOT = Path(__file__).resolve().parents[1]


def integrate_slopes(gx: np.ndarray, gz: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares height whose forward differences inside ``mask`` match (gx, gz); zero outside."""
    ids = -np.ones(mask.shape, np.int64)
    n = int(mask.sum())
    ids[mask] = np.arange(n)
    rows, cols, vals, rhs, count = [], [], [], [], 0
    for a, b, g in ((ids[:-1], ids[1:], gx[:-1]), (ids[:, :-1], ids[:, 1:], gz[:, :-1])):
        edge = (a >= 0) | (b >= 0)
        a, b, g = a[edge], b[edge], g[edge]
        g = np.where((a >= 0) & (b >= 0), g, 0.0)
        k = np.arange(count, count + len(a))
        for ends, sign in ((b, 1.0), (a, -1.0)):
            ok = ends >= 0
            rows.append(k[ok]), cols.append(ends[ok]), vals.append(np.full(int(ok.sum()), sign))
        rhs.append(g)
        count += len(a)
    matrix = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(count, n))
    height = np.zeros(mask.shape)
    height[mask] = spsolve((matrix.T @ matrix).tocsc(), matrix.T @ np.concatenate(rhs))
    return height


def variants(layers, first, last):
    hit = np.isfinite(first) & np.isfinite(last)
    middle = (np.nanmin(first[hit]) + np.nanmax(last[hit])) / 2
    front = np.where(hit, middle - first, layers.front)
    back = np.where(hit, last - middle, layers.back)
    thickness, classical = front + back, layers.front + layers.back
    scale = np.median(thickness[hit] / np.maximum(classical[hit], 1.0))
    slopes = []
    for axis in (0, 1):
        true, guess = np.diff(front, axis=axis, append=0), np.diff(layers.front, axis=axis, append=0)
        both = hit & np.roll(hit, -1, axis=axis)
        slopes.append(np.where(both & (np.abs(true) < 2.5), true - guess, 0.0))  # not across occluding edges
    lift = integrate_slopes(*slopes, layers.mask)
    return {
        "classical": (layers.front, layers.back),
        "true front and back": (front, back),
        "true front, classical thickness": (front, classical - front),
        "classical front, true thickness": (layers.front + (thickness - classical) / 2,
                                            layers.back + (thickness - classical) / 2),
        "classical shape, true overall thickness": (layers.front * scale, layers.back * scale),
        "true front slopes only": (layers.front + lift, layers.back - lift),
        "true front, classical back": (front, layers.back),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--corpus-validation", action="store_true",
                        help="the corpus's validation split instead of the training meshes")
    args = parser.parse_args()

    from fabricate.evaluate.run import render_cases, score_surface
    from fabricate.image import extract_foreground, load_photo
    from fabricate.reconstruct.classical import ClassicalReconstructor, surface_from_layers
    from fabricate.reconstruct.neural.data import SHARED_MESHES, true_layers

    meshes, label = SHARED_MESHES / "train", "Training meshes"
    if args.corpus_validation:
        from fabricate.reconstruct.neural.shards import CORPUS, corpus_objects, validation_files

        meshes = [CORPUS / "meshes" / name for name in sorted(validation_files(corpus_objects()))]
        label = "Corpus validation split"
    learned = None
    if args.resolution == 128:  # the learned model's layer grid
        try:
            from fabricate.reconstruct.neural import NeuralReconstructor

            learned = NeuralReconstructor()
        except ImportError:  # torch is not installed: no learned row
            pass
    rows = {}
    cases = render_cases(meshes, views=args.views)
    for case in cases:
        foreground = extract_foreground(load_photo(case.photo_png, "c.png"))
        layers = ClassicalReconstructor().depth_layers(foreground, args.resolution)
        first, last = true_layers(case.gt_vertices, case.gt_faces, case.camera, layers.photo_from_voxel,
                                  layers.mask.shape)
        options = variants(layers, first, last)
        if learned is not None:
            predicted = learned.predict(foreground)[0]
            nx, nz = layers.mask.shape
            options["learned model's front and back"] = (predicted[0, :nx, :nz], predicted[1, :nx, :nz])
        for name, (front, back) in options.items():
            inside = lambda a: np.where(layers.mask, a, 0.0).astype(np.float32)
            built = surface_from_layers(layers, inside(front), inside(back))
            vertices, faces = built.volume.extract_surface()
            rows.setdefault(name, []).append(score_surface(case, vertices, faces, built.photo_from_voxel, volume=False))
    print(f"{label} ({len(cases)} rendered views, resolution {args.resolution}); one part of the "
          "depth layers replaced by the truth:\n")
    print("| depth layers | Chamfer-L1 | F-score@1% | F-score@2% | normal consistency |")
    print("|---|---|---|---|---|")
    for name, scores in rows.items():
        mean = lambda key: float(np.mean([s[key] for s in scores]))
        print(f"| {name} | {mean('chamfer_l1'):.4f} | {100 * mean('f_score_1'):.1f} | {100 * mean('f_score_2'):.1f} | "
              f"{mean('normal_consistency'):.3f} |")


if __name__ == "__main__":
    main()
