"""The learned model on the CPU: data, forward/backward with sparse convolutions, training, weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fabricate.reconstruct.neural.data import TRUNCATION, make_sample, procedural_shape, signed_distance_grid
from fabricate.reconstruct.neural.model import sdf_loss


def test_sdf_targets_of_a_sphere():
    import trimesh

    sphere = trimesh.creation.icosphere(4)
    sphere.apply_scale(10)
    sphere.apply_translation([16, 16, 16])
    sdf = signed_distance_grid(np.asarray(sphere.vertices), np.asarray(sphere.faces), (32, 32, 32))
    grid = np.indices((32, 32, 32)).transpose(1, 2, 3, 0)
    exact = np.clip(np.linalg.norm(grid - 16, axis=-1) - 10, -TRUNCATION, TRUNCATION)
    assert np.abs(sdf - exact).max() < 0.3  # surface sampling and icosphere facets only
    assert np.abs(sdf - exact).mean() < 0.05
    assert sdf[16, 16, 16] == -TRUNCATION and sdf[0, 0, 0] == TRUNCATION


def test_a_training_sample_is_aligned_with_its_photo():
    from fabricate.reconstruct.neural.data import GRID, LAYER_GRID

    rng = np.random.default_rng([5, 1])
    sample = make_sample(*procedural_shape(rng), rng)
    matte, hit = sample["image"][..., 3] >= 128, sample["hit"]
    assert (matte & hit).sum() / (matte | hit).sum() > 0.9  # the true rays land on the photo's silhouette
    # The 3D target seen along the depth axis is the same silhouette, on every second column.
    step = LAYER_GRID // GRID
    inside = (sample["target"].astype(float) < 0).any(axis=1)
    small = matte[::step, ::step]
    assert (inside & small).sum() / (inside | small).sum() > 0.85
    # Depth layers are centred like the evaluation: the extent is symmetric about the middle plane.
    truth = sample["truth"].astype(float)
    assert abs(truth[0][hit].max() - truth[1][hit].max()) < 0.5
    assert ((truth[0] + truth[1])[hit] >= -0.5).all()  # the back is never in front of the front


@pytest.mark.slow  # the whole model, forward and backward
def test_forward_backward_on_cpu_with_sparse_convolutions():
    from fabricate.reconstruct.neural.data import outline_on_grid
    from fabricate.reconstruct.neural.model import ReconstructionNet, centre_layers, compose_sdf, layer_loss

    torch.manual_seed(0)
    rng = np.random.default_rng([6, 2])
    sample = make_sample(*procedural_shape(rng), rng)
    tensor = lambda a, dtype=np.float32: torch.from_numpy(np.ascontiguousarray(a).astype(dtype))[None]
    image, guess = tensor(sample["image"], np.uint8), tensor(sample["guess"])
    outline, target = tensor(outline_on_grid(sample["image"][..., 3])), tensor(sample["target"])
    model = ReconstructionNet()
    layers, composed, coarse, fine, sites = model(image, guess, outline)
    assert layers.shape == (1, 2, 128, 128) and composed.shape == fine.shape == (1, 64, 64, 64)
    assert coarse.shape == (1, 32, 32, 32) and len(sites) > 100
    # Before training the model returns the classical guess (zero-initialised corrections),
    # centred along the view like the targets.
    matte = tensor(sample["image"][..., 3] >= 128, bool)
    classical = centre_layers(guess * matte, matte)
    assert torch.allclose(layers, classical, atol=1e-4)
    assert torch.allclose(fine, composed, atol=1e-5)
    assert torch.allclose(composed, compose_sdf(classical, outline), atol=1e-4)
    loss = layer_loss(layers, tensor(sample["truth"]), tensor(sample["hit"], bool)) + sdf_loss(coarse, fine, sites,
                                                                                              target)
    loss.backward()
    assert model.layers.head.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.refine.sparse_convs.parameters())
    assert model.refine.sparse_head.weight.grad.abs().sum() > 0


@pytest.mark.slow  # trains
def test_tiny_training_run_reduces_the_loss_and_exports_loadable_weights(tmp_path):
    from fabricate.reconstruct.neural import NeuralReconstructor, load_model
    from fabricate.reconstruct.neural.model import ReconstructionNet
    from fabricate.reconstruct.neural.train import TrainConfig, evaluate_loss, load_training_data, train

    # A plan without the corpus or the training meshes: six procedural shapes in two shards.
    plan = {"procedural_shapes": 6, "organic_shapes": 0, "views_per_train_mesh": 0, "views_per_corpus_object": 0,
            "shard_size": 3, "seed": 3}
    config = TrainConfig(data_dir=str(tmp_path / "data"), out_dir=str(tmp_path / "run"), data=plan, data_workers=1,
                         layer_steps=150, layer_batch=2, refine_steps=6, refine_batch=2, learning_rate=3e-3,
                         warmup_steps=5, checkpoint_every=20, validate_every=20)
    weights = tmp_path / "w.safetensors"
    samples, fitted, _, _ = load_training_data(config)  # builds the shards the first time
    assert len(list((tmp_path / "data").glob("procedural-train-*.npz"))) == 2
    everything = fitted  # a run this short can only show that it fits what it trains on
    untrained = ReconstructionNet()  # = the classical guess
    before = {stage: evaluate_loss(untrained, samples, everything, 2, stage) for stage in ("layers", "refine")}
    train(config, progress=False, weights_path=weights)
    model, _ = load_model(weights)
    after = {stage: evaluate_loss(model, samples, everything, 2, stage) for stage in ("layers", "refine")}
    assert after["layers"] < 0.9 * before["layers"]
    assert after["refine"] < before["refine"]  # better layers give a better SDF
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    assert sum(p.numel() for p in model.parameters()) > 100_000
    # Resuming continues from the checkpoint instead of starting over.
    config.refine_steps = 8
    assert train(config, progress=False, weights_path=weights)["steps"] == 158
    # The reconstructor built on these weights makes a closed surface.
    from fabricate.image import extract_foreground, load_photo
    from conftest import SAMPLES, directed_edges_all_twinned

    foreground = extract_foreground(load_photo(SAMPLES[0]))
    vertices, faces = NeuralReconstructor(weights).reconstruct(foreground, 128).volume.extract_surface()
    assert len(faces) > 1000 and directed_edges_all_twinned(faces)


@pytest.mark.slow  # a whole reconstruction of a sample photo
def test_the_shipped_weights_load_and_change_the_classical_guess():
    from conftest import SAMPLES, directed_edges_all_twinned
    from fabricate.image import extract_foreground, load_photo
    from fabricate.reconstruct import MODELS
    from fabricate.reconstruct.neural import WEIGHTS, NeuralReconstructor, load_model
    from fabricate.reconstruct.neural.data import model_inputs

    assert WEIGHTS.stat().st_size < 50e6 and "neural" in MODELS
    model, _ = load_model()
    assert sum(p.numel() for p in model.parameters()) > 100_000
    foreground = extract_foreground(load_photo(SAMPLES[0]))
    reconstructor = NeuralReconstructor()
    layers, correction, _ = reconstructor.predict(foreground)
    assert correction is None  # the shipped model uses its layers alone (REFINE_AT_INFERENCE)
    refining = NeuralReconstructor(refine=True)
    refined_layers, correction, _ = refining.predict(foreground)
    assert np.array_equal(layers, refined_layers)
    image, guess, _ = model_inputs(reconstructor.classical, foreground)
    matte = image[..., 3] >= 128
    # Trained: the layers' thickness and the 3D correction differ from the untrained (classical) start.
    assert np.abs((layers - guess * matte).sum(0)).max() > 1.0 and np.abs(correction).max() > 0.1
    for model in (reconstructor, refining):
        vertices, faces = model.reconstruct(foreground, 128).volume.extract_surface()
        assert len(faces) > 1000 and directed_edges_all_twinned(faces)


@pytest.mark.slow  # the whole model, forward and backward
def test_the_model_runs_forward_and_backward_with_spconv_on_the_cpu():
    """The 3D stage with spconv (one CPU thread, where its scatter is exact) equals the torch backend."""
    from fabricate.reconstruct.neural.data import outline_on_grid
    from fabricate.reconstruct.neural.model import ReconstructionNet
    from fabricate.reconstruct.neural.sparse_conv import spconv_available

    if not spconv_available():
        pytest.skip("spconv is not installed")
    torch.manual_seed(1)
    rng = np.random.default_rng([6, 3])
    sample = make_sample(*procedural_shape(rng), rng)
    tensor = lambda a, dtype=np.float32: torch.from_numpy(np.ascontiguousarray(a).astype(dtype))[None]
    inputs = (tensor(sample["image"], np.uint8), tensor(sample["guess"]), tensor(outline_on_grid(sample["image"][..., 3])))
    model = ReconstructionNet()
    torch.nn.init.normal_(model.refine.sparse_head.weight, std=0.1)  # a non-zero refinement to compare
    results = {}
    threads = torch.get_num_threads()
    try:
        for backend in ("spconv", "torch"):
            for conv in model.refine.sparse_convs:
                conv.backend = backend
            torch.set_num_threads(1 if backend == "spconv" else 2)
            model.zero_grad()
            _, _, coarse, fine, sites = model(*inputs)
            sdf_loss(coarse, fine, sites, tensor(sample["target"])).backward()
            results[backend] = (fine.detach().clone(), model.refine.sparse_convs[0].weight.grad.clone())
    finally:
        torch.set_num_threads(threads)
        for conv in model.refine.sparse_convs:
            conv.backend = "auto"
    difference = (results["spconv"][0] - results["torch"][0]).abs().max().item()
    assert difference < 1e-4, difference
    assert results["spconv"][1].abs().sum() > 0
    assert torch.allclose(results["spconv"][1], results["torch"][1], atol=1e-3, rtol=1e-3)


#: Runs the CLI as if torch were not installed: an import hook refuses it before anything imports it.
WITHOUT_TORCH = """
import sys
class NoTorch:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in ("torch", "spconv", "safetensors"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
from fabricate.cli import main
sys.argv = ["fabricate"] + sys.argv[1:]
main()
"""


def test_the_neural_model_without_torch_says_how_to_install_it(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT, SAMPLES

    out = tmp_path / "model.3mf"
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, "make", str(SAMPLES[0]), "--model", "neural",
                             "--printer", "bambu-a1", "-o", str(out)], capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs torch" in lines[0] and "pip install -e '.[neural]'" in lines[0], lines
    assert not out.exists()
