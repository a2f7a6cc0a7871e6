"""The sparse convolution against dense torch.nn.functional.conv3d, at 2 threads (where spconv's CPU race shows)."""
import pytest
import torch
import torch.nn.functional as F

from fabricate.reconstruct.neural.sparse_conv import Rulebook, SubMConv3d, choose_backend, spconv_available


def random_sites(shape=(32, 32, 32), count=3000, channels=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    flat = torch.randperm(shape[0] * shape[1] * shape[2], generator=generator)[:count]
    z, rest = flat // (shape[1] * shape[2]), flat % (shape[1] * shape[2])
    coords = torch.stack([torch.zeros_like(z), z, rest // shape[2], rest % shape[2]], 1)
    return coords, torch.randn(count, channels, generator=generator, dtype=torch.float64)


def dense_reference(conv, coords, features, shape):
    dense = torch.zeros(1, features.shape[1], *shape, dtype=features.dtype)
    dense[0, :, coords[:, 1], coords[:, 2], coords[:, 3]] = features.t()
    out = F.conv3d(dense, conv.weight.permute(0, 4, 1, 2, 3).to(features.dtype), padding=1)
    return out[0, :, coords[:, 1], coords[:, 2], coords[:, 3]].t()


def test_torch_backend_matches_dense_conv_at_two_threads():
    torch.set_num_threads(2)
    coords, features = random_sites()
    conv = SubMConv3d(8, 16, backend="torch").double()
    rules = Rulebook(coords, (32, 32, 32))
    features.requires_grad_(True)
    out = conv(features, rules)
    reference = dense_reference(conv, coords, features, (32, 32, 32))
    assert torch.allclose(out, reference, atol=1e-10)
    grad = torch.randn_like(out)
    d_features, d_weight = torch.autograd.grad(out, (features, conv.weight), grad)
    r_features, r_weight = torch.autograd.grad(reference, (features, conv.weight), grad)
    assert torch.allclose(d_features, r_features, atol=1e-10) and torch.allclose(d_weight, r_weight, atol=1e-9)


@pytest.mark.skipif(not spconv_available(), reason="spconv is not installed")
def test_spconv_backend_matches_dense_conv_at_one_thread_and_is_not_chosen_at_two():
    torch.set_num_threads(2)
    if not torch.cuda.is_available():
        assert choose_backend(torch.device("cpu")) == "torch"  # the scatter race: never spconv at 2 threads
    torch.set_num_threads(1)
    try:
        coords, features = random_sites(channels=8, seed=1)
        features = features.float().requires_grad_(True)
        conv = SubMConv3d(8, 16, backend="spconv")
        out = conv(features, Rulebook(coords, (32, 32, 32)))
        reference = dense_reference(conv, coords, features.double(), (32, 32, 32)).float()
        assert torch.allclose(out, reference, atol=1e-4)
        out.square().sum().backward()  # needs the CPU stream patch
        assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()
        # Sites as torch.nonzero gives them (a column-major tensor) must read the same.
        grid = torch.zeros(1, 32, 32, 32, dtype=torch.bool)
        grid[coords[:, 0], coords[:, 1], coords[:, 2], coords[:, 3]] = True
        sites = torch.nonzero(grid)
        assert not sites.is_contiguous()
        order = torch.argsort(((coords[:, 1] * 32 + coords[:, 2]) * 32 + coords[:, 3]))
        out = conv(features.detach()[order], Rulebook(sites, (32, 32, 32)))
        assert torch.allclose(out, reference[order], atol=1e-4)
    finally:
        torch.set_num_threads(2)
