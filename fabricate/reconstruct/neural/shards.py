"""Training data at scale: what to render, the validation split by object, shards that resume.

A *plan* lists shards; each shard is a fixed list of (source, view) items, so its name says
exactly what it holds and growing the plan (more views per object, more procedural shapes,
new corpus objects appended to its records) only adds shards: finished ones are never
rebuilt. A shard is one ``.npz`` of stacked samples plus a JSON list of what each row is,
written under a temporary name and renamed, so an interrupted build leaves no half shard.

The validation split is by object: a fixed 5 % of every corpus category (at least one
object), chosen by a hash of the file name so it never moves when the plan grows. Every
model choice is made on it; ``../shared/meshes/heldout`` is never part of any plan.
"""
from __future__ import annotations

import hashlib
import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabricate.atomic import atomic_open
from fabricate.reconstruct.neural.data import (CORPUS_VIEWS, SHARED_MESHES, TRAIN_FOLDERS, ViewRanges, make_sample,
                                               organic_shape, procedural_shape)

CORPUS = SHARED_MESHES / "corpus"
VALIDATION_SHARE = 0.05
#: Arrays of one sample, stacked along a first axis in a shard.
KEYS = ("image", "guess", "truth", "hit", "target")


@dataclass(frozen=True)
class DataPlan:
    """How much of each source to render; every count can grow later without redoing shards."""

    procedural_shapes: int = 320
    organic_shapes: int = 320
    views_per_train_mesh: int = 20       # ../shared/meshes/train and paired (14 meshes)
    views_per_corpus_object: int = 2
    seed: int = 0
    shard_size: int = 32                 # fixed for a data folder: it decides what every shard holds


@dataclass(frozen=True)
class CorpusObject:
    file: str
    category: str
    licence: str
    author: str
    colour: bool
    repo: str = ""
    path: str = ""


#: Licences that do not allow shipping weights trained on the mesh: such meshes never enter a plan.
EXCLUDED_LICENCES = ("research-use",)


def corpus_objects(corpus=CORPUS) -> list:
    """Every usable corpus mesh, in the records' order (new objects are appended there)."""
    path = Path(corpus) / "records.jsonl"
    if not path.exists():
        return []
    objects = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("status") == "ok" and not record.get("licence", "").startswith(EXCLUDED_LICENCES) \
                and (Path(corpus) / "meshes" / record["file"]).exists():
            objects.append(CorpusObject(record["file"], record.get("category", "other"), record.get("licence", ""),
                                        record.get("author", ""),
                                        record.get("colour_kind") in ("per-vertex", "per-material"),
                                        record.get("repo", ""), record.get("path", "")))
    return objects


#: Licences whose terms ask for nothing where trained weights are described.
NO_ATTRIBUTION = ("CC0", "public-domain")


def attribution_markdown(objects) -> str:
    """Markdown crediting every corpus object whose licence asks for it (CC-BY, MIT, BSD, ...)."""
    credited = sorted((o for o in objects if not o.licence.startswith(NO_ATTRIBUTION)),
                      key=lambda o: (o.licence, o.file))
    lines = ["# Attribution: corpus meshes the shipped weights were trained on", "",
             f"{len(objects)} corpus meshes in all; {len(objects) - len(credited)} are CC0 or public domain. "
             "These ask for credit (from ../shared/meshes/corpus/records.jsonl):", "",
             "| mesh | author | licence | source |", "|---|---|---|---|"]
    clean = lambda text: str(text).replace("|", "/").replace("\n", " ")
    lines += [f"| {clean(o.file)} | {clean(o.author)} | {clean(o.licence)} | {clean(o.repo)} {clean(o.path)} |"
              for o in credited]
    return "\n".join(lines) + "\n"


def _rank(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def validation_files(objects) -> set:
    """The fixed 5 % of every category (at least one object) held back for model choices."""
    by_category = {}
    for item in objects:
        by_category.setdefault(item.category, []).append(item.file)
    chosen = set()
    for files in by_category.values():
        count = max(1, math.ceil(VALIDATION_SHARE * len(files)))
        chosen.update(sorted(files, key=_rank)[:count])
    return chosen


@dataclass(frozen=True)
class Shard:
    name: str          # e.g. "corpus-train-v01-0007": group, split, view, chunk
    group: str         # "procedural", "organic", "meshes" or "corpus"
    split: str         # "train" or "validation"
    items: tuple       # (source, view): source is an index (procedural/organic) or a mesh path


def plan_shards(plan: DataPlan = DataPlan(), corpus=CORPUS) -> list:
    """Every shard of the plan, in build order (cheap shapes first, the curriculum's order)."""
    shards = []
    for group, count in (("procedural", plan.procedural_shapes), ("organic", plan.organic_shapes)):
        size = plan.shard_size
        for chunk in range(math.ceil(count / size)):  # whole shards: growing the count adds new ones
            shards.append(Shard(f"{group}-train-{chunk:04d}", group, "train",
                                tuple((i, 0) for i in range(chunk * size, (chunk + 1) * size))))
    meshes = [str(p) for folder in TRAIN_FOLDERS for p in sorted((SHARED_MESHES / folder).glob("*.obj"))]
    for view in range(plan.views_per_train_mesh):
        shards.append(Shard(f"meshes-train-v{view:02d}", "meshes", "train", tuple((m, view) for m in meshes)))
    objects = corpus_objects(corpus)
    held = validation_files(objects)
    for split in ("train", "validation"):
        files = [str(Path(corpus) / "meshes" / o.file) for o in objects if (o.file in held) == (split == "validation")]
        for view in range(plan.views_per_corpus_object):
            for chunk in range(math.ceil(len(files) / plan.shard_size)):
                items = tuple((f, view) for f in files[chunk * plan.shard_size:(chunk + 1) * plan.shard_size])
                shards.append(Shard(f"corpus-{split}-v{view:02d}-{chunk:04d}", "corpus", split, items))
    return [s for s in shards if s.items]


def load_mesh_with_colours(path):
    """Vertices, faces and per-face colours (None where the file has no colour)."""
    import trimesh

    mesh = trimesh.load(path, force="mesh", process=False)
    vertices, faces = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    colours = None
    if getattr(mesh.visual, "kind", None) == "vertex":
        vertex = np.asarray(mesh.visual.vertex_colors)[:, :3].astype(np.float64)
        if np.ptp(vertex, axis=0).max() > 0:  # a single grey is no colour at all
            colours = np.round(vertex[faces].mean(axis=1)).astype(np.uint8)
    return vertices, faces, colours


def item_rng(plan: DataPlan, shard: Shard, item) -> np.random.Generator:
    """The seed of one sample: the plan's seed, the shard's name and the item (never the order built)."""
    source, view = item
    key = zlib.crc32(f"{shard.group}|{Path(str(source)).name}|{view}".encode())
    return np.random.default_rng([plan.seed, key])


def build_shard(shard: Shard, plan: DataPlan, out_dir) -> int:
    """Render one shard's samples and write them; returns how many (a degenerate item is skipped)."""
    rows, sources = {k: [] for k in KEYS}, []
    for item in shard.items:
        source, view = item
        rng = item_rng(plan, shard, item)
        try:
            if shard.group in ("procedural", "organic"):
                vertices, faces = (procedural_shape if shard.group == "procedural" else organic_shape)(rng)
                sample = make_sample(vertices, faces, rng)
            else:
                vertices, faces, colours = load_mesh_with_colours(source)
                # Most real models are stored upright (y up); the rest lie on another axis.
                up_axis = 1 if rng.random() < (0.6 if shard.group == "meshes" else 0.85) else int(rng.choice([0, 2]))
                ranges = CORPUS_VIEWS if shard.group == "corpus" else ViewRanges()
                sample = make_sample(vertices, faces, rng, up_axis=up_axis, face_colours=colours, ranges=ranges)
        except Exception:  # a degenerate random shape or an unreadable mesh: skip it, deterministically
            continue
        for key in KEYS:
            rows[key].append(sample[key])
        sources.append({"source": Path(str(source)).name if shard.group in ("meshes", "corpus") else source,
                        "view": view})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.stack(v) for k, v in rows.items()} if sources else {}
    with atomic_open(out / f"{shard.name}.npz") as handle:
        np.savez_compressed(handle, items=np.array(json.dumps(sources)), **arrays)
    return len(sources)


def _build_one(arguments) -> tuple:
    shard, plan, out_dir = arguments
    return shard.name, build_shard(shard, plan, out_dir)


def build_shards(out_dir, plan: DataPlan = DataPlan(), workers: int = 1, report=None, corpus=CORPUS) -> dict:
    """Build every missing shard of ``plan`` (``workers`` processes); returns {built, kept, samples}.

    The folder remembers the seed and shard size it was started with (``plan.json``) and
    refuses another: shards of two seeds under the same names would silently mix.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fixed = {"seed": plan.seed, "shard_size": plan.shard_size}
    record = out / "plan.json"
    if record.exists() and json.loads(record.read_text()) != fixed:
        raise ValueError(f"{out} holds shards of another plan ({record.read_text().strip()}); use a new folder")
    if not record.exists():
        with atomic_open(record, "w") as handle:
            handle.write(json.dumps(fixed))
    shards = plan_shards(plan, corpus)
    missing = [s for s in shards if not (Path(out_dir) / f"{s.name}.npz").exists()]
    done, samples = len(shards) - len(missing), 0
    jobs = [(s, plan, out_dir) for s in missing]
    pool = None
    if workers > 1 and len(jobs) > 1:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers)
    try:
        for _, count in (pool.imap_unordered(_build_one, jobs) if pool else map(_build_one, jobs)):
            samples += count
            done += 1
            if report:
                report(done, len(shards))
    finally:
        if pool:
            pool.terminate()
    return {"built": len(missing), "kept": len(shards) - len(missing), "samples_built": samples}


def load_shards(folder, split: str = None) -> tuple:
    """The samples of every shard in ``folder`` (of one split if given) and each one's group.

    Returns
    -------
    samples : list of dicts of arrays (one per sample), groups : list of str, names : list of str
    """
    samples, groups, names = [], [], []
    for path in sorted(Path(folder).glob("*.npz")):
        group, shard_split = path.stem.split("-")[:2]
        if split is not None and shard_split != split:
            continue
        with np.load(path) as data:
            items = json.loads(str(data["items"]))
            arrays = {k: data[k] for k in KEYS} if items else {}
        for row, item in enumerate(items):
            samples.append({k: arrays[k][row] for k in KEYS})
            groups.append(group)
            names.append(f"{path.stem}:{item['source']}")
    return samples, groups, names
