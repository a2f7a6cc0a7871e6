"""Training data shards: the split by object, plans that grow without rebuilding, resumable builds."""
import json
from dataclasses import replace

import numpy as np
import pytest

from fabricate.reconstruct.neural.shards import (CORPUS, CorpusObject, DataPlan, build_shards, corpus_objects,
                                                 load_shards, plan_shards, validation_files)


def _objects(counts: dict) -> list:
    return [CorpusObject(f"{category}-{i}.ply", category, "CC0-1.0", "", False)
            for category, n in counts.items() for i in range(n)]


def test_the_validation_split_is_five_percent_of_every_category_and_stays_put():
    objects = _objects({"plant": 100, "tool": 21, "toy": 3})
    held = validation_files(objects)
    by_category = {c: sum(f.startswith(c) for f in held) for c in ("plant", "tool", "toy")}
    assert by_category == {"plant": 5, "tool": 2, "toy": 1}
    # Objects appended to the records never move one out of the split; a category whose
    # quota grows (101 plants: 6) gains one.
    grown = validation_files(objects + [CorpusObject("plant-new.ply", "plant", "", "", False)])
    assert held <= grown and len(grown - held) == 1


@pytest.mark.skipif(not (CORPUS / "records.jsonl").exists(), reason="needs ../shared/meshes/corpus")
def test_the_corpus_plan_keeps_validation_objects_out_of_training_and_grows_by_adding_shards():
    objects = corpus_objects()
    assert len(objects) > 1000
    shards = plan_shards(DataPlan())
    train = {item[0] for s in shards if s.group == "corpus" and s.split == "train" for item in s.items}
    valid = {item[0] for s in shards if s.split == "validation" for item in s.items}
    assert valid and not train & valid
    assert len(valid) == len(validation_files(objects))
    # Nothing held out ever enters a plan.
    assert not any("heldout" in str(item[0]) for s in shards for item in s.items)
    # More views, more procedural shapes: every existing shard is still there, holding the same items.
    bigger = {s.name: s for s in plan_shards(DataPlan(views_per_corpus_object=3, procedural_shapes=700))}
    assert all(bigger[s.name] == s for s in shards) and len(bigger) > len(shards)


def _tiny_corpus(folder):
    import trimesh

    (folder / "meshes").mkdir(parents=True)
    records = []
    for index, mesh in enumerate([trimesh.creation.box((0.5, 0.3, 0.4)), trimesh.creation.icosphere(2)]):
        mesh.visual.vertex_colors = np.tile([200, 40 + 100 * index, 30, 255], (len(mesh.vertices), 1))
        name = f"tiny__{index}.ply"
        mesh.export(folder / "meshes" / name)
        records.append({"file": name, "status": "ok", "category": "prop", "licence": "CC0-1.0",
                        "colour_kind": "per-vertex"})
    (folder / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    return folder


@pytest.mark.slow  # renders a dozen samples
def test_a_build_resumes_grows_and_is_the_same_whatever_the_order(tmp_path):
    corpus = _tiny_corpus(tmp_path / "corpus")
    plan = DataPlan(procedural_shapes=2, organic_shapes=0, views_per_train_mesh=0, views_per_corpus_object=1,
                    shard_size=2, seed=4)
    first = build_shards(tmp_path / "data", plan, corpus=corpus)
    assert first["built"] == len(plan_shards(plan, corpus)) and first["samples_built"] >= 3
    assert build_shards(tmp_path / "data", plan, corpus=corpus)["built"] == 0  # nothing redone
    grown = build_shards(tmp_path / "data", replace(plan, views_per_corpus_object=2), corpus=corpus)
    assert grown["built"] == 2 and grown["kept"] == first["built"]  # a second view of each object
    samples, groups, names = load_shards(tmp_path / "data")
    assert set(groups) == {"procedural", "corpus"} and len(samples) == len(names)
    assert samples[0]["image"].shape == (128, 128, 4) and samples[0]["target"].shape == (64, 64, 64)
    # One corpus object is the category's validation object; its views are the validation split.
    valid, _, _ = load_shards(tmp_path / "data", "validation")
    assert len(valid) == 2
    # A shard's samples depend on the plan's seed and the items, not on what was built before.
    alone = build_shards(tmp_path / "other", replace(plan, procedural_shapes=0, views_per_corpus_object=2),
                         corpus=corpus)
    assert alone["built"] == 4
    again, _, again_names = load_shards(tmp_path / "other", "validation")
    assert again_names == [n for n in names if "validation" in n]
    assert all(np.array_equal(a["target"], b["target"]) for a, b in zip(valid, again))
    # Another seed in the same folder would mix two datasets under the same names: refused.
    with pytest.raises(ValueError, match="another plan"):
        build_shards(tmp_path / "data", replace(plan, seed=5), corpus=corpus)


@pytest.mark.skipif(not (CORPUS / "records.jsonl").exists(), reason="needs ../shared/meshes/corpus")
def test_the_shipped_attribution_credits_every_corpus_mesh_that_asks_for_it():
    from pathlib import Path

    from fabricate.reconstruct.neural.shards import attribution_markdown

    shipped = Path(__file__).resolve().parents[1] / "fabricate" / "reconstruct" / "neural" / "ATTRIBUTION.md"
    objects = corpus_objects()
    assert shipped.read_text() == attribution_markdown(objects)
    assert "CC-BY-4.0" in shipped.read_text() and "CC-BY-3.0" in shipped.read_text()
    assert all(not o.licence.startswith("research-use") for o in objects)  # never trained on
