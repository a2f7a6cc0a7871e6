"""The learned model on the CPU: data, forward/backward with sparse convolutions, training, weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fabricate.reconstruct.neural.data import TRUNCATION, make_sample, procedural_shape, signed_distance_grid
from fabricate.reconstruct.neural.model import SparseSDFNet, sdf_loss


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
    rng = np.random.default_rng([5, 1])
    sample = make_sample(*procedural_shape(rng), rng)
    classical, target = sample["classical"].astype(float) < 0, sample["target"].astype(float) < 0
    silhouette = lambda inside: inside.any(axis=1)  # seen along the depth axis
    overlap = (silhouette(classical) & silhouette(target)).sum() / (silhouette(classical) | silhouette(target)).sum()
    assert overlap > 0.9


def test_forward_backward_on_cpu_with_sparse_convolutions():
    torch.manual_seed(0)
    rng = np.random.default_rng([6, 2])
    sample = make_sample(*procedural_shape(rng), rng)
    classical = torch.from_numpy(sample["classical"].astype(np.float32))[None]
    image = torch.from_numpy(sample["image"])[None]
    target = torch.from_numpy(sample["target"].astype(np.float32))[None]
    model = SparseSDFNet()
    coarse, fine, sites = model(classical, image)
    assert coarse.shape == (1, 32, 32, 32) and fine.shape == (1, 64, 64, 64) and len(sites) > 100
    # Before training the model returns the classical SDF (zero-initialised corrections).
    assert torch.allclose(fine, classical.clamp(-TRUNCATION, TRUNCATION), atol=1e-5)
    loss = sdf_loss(coarse, fine, sites, target)
    loss.backward()
    grads = [p.grad for p in model.sparse_convs.parameters()]
    assert all(g is not None for g in grads)
    assert model.sparse_head.weight.grad.abs().sum() > 0


def test_tiny_training_run_reduces_the_loss_and_exports_loadable_weights(tmp_path):
    from fabricate.reconstruct.neural import NeuralReconstructor, load_model
    from fabricate.reconstruct.neural.data import build_dataset
    from fabricate.reconstruct.neural.train import TrainConfig, evaluate_loss, load_samples, train

    build_dataset(tmp_path / "data", procedural=6, views_per_mesh=0, seed=3)
    config = TrainConfig(data_dir=str(tmp_path / "data"), out_dir=str(tmp_path / "run"), steps=40, batch_size=2,
                         learning_rate=1e-3, warmup_steps=5, checkpoint_every=20, validate_every=20)
    weights = tmp_path / "w.safetensors"
    samples = load_samples(tmp_path / "data")
    everything = np.arange(len(samples))
    before = evaluate_loss(SparseSDFNet(), samples, everything, 2)  # untrained = the classical guess
    train(config, progress=False, weights_path=weights)
    model, _ = load_model(weights)
    after = evaluate_loss(model, samples, everything, 2)
    assert after < 0.9 * before
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    assert sum(p.numel() for p in model.parameters()) > 10_000
    # Resuming continues from the checkpoint instead of starting over.
    config.steps = 45
    assert train(config, progress=False, weights_path=weights)["steps"] == 45
    # The reconstructor built on these weights makes a closed surface.
    from fabricate.image import extract_foreground, load_photo
    from conftest import SAMPLES, directed_edges_all_twinned

    foreground = extract_foreground(load_photo(SAMPLES[0]))
    vertices, faces = NeuralReconstructor(weights).reconstruct(foreground, 128).volume.extract_surface()
    assert len(faces) > 1000 and directed_edges_all_twinned(faces)
