"""Encoders map (B, C, L) to (B, dim) and train."""
from __future__ import annotations

import pytest
import torch

from core.errors import UserError
from core.specs import InputSpec
from core_ecg.plugin import core_encoders


@pytest.mark.parametrize("name,shape", [("ecg/cnn", (1, 140)), ("ecg/cnn", (12, 1000)),
                                        ("ecg/inception", (2, 140)), ("ecg/xresnet1d", (2, 140))])
def test_encoder_output_and_backprop(name, shape):
    torch.manual_seed(0)
    spec = {s.name: s for s in core_encoders()}[name]
    model = spec.build(InputSpec("sequence", shape), 24)
    x = torch.randn(4, *shape)
    z = model(x)
    assert z.shape == (4, 24) and z.dtype == torch.float32
    z.pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    model.eval()
    assert model(x[:1]).shape == (1, 24)


def test_cnn_is_small():
    model = {s.name: s for s in core_encoders()}["ecg/cnn"].build(InputSpec("sequence", (1, 140)), 128)
    assert sum(p.numel() for p in model.parameters()) < 120_000


def test_wrong_modality():
    spec = {s.name: s for s in core_encoders()}["ecg/cnn"]
    with pytest.raises(UserError, match="ecg/cnn"):
        spec.build(InputSpec("image", (3, 8, 8)), 16)


@pytest.mark.parametrize("name,shape,dim", [("ecg/cnn-bins", (1, 140), 256), ("ecg/cnn-bins", (12, 1000), 1024),
                                            ("ecg/cnn-flatten", (1, 24), 24), ("ecg/cnn-flatten", (2, 750), 24)])
def test_position_keeping_encoders_output_and_backprop(name, shape, dim):
    torch.manual_seed(0)
    model = {s.name: s for s in core_encoders()}[name].build(InputSpec("sequence", shape), dim)
    assert model.training  # built ready to train (the flatten head's shape probe runs in eval and restores)
    x = torch.randn(4, *shape)
    z = model(x)
    assert z.shape == (4, dim) and torch.isfinite(z).all()
    z.pow(2).mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_bins_keep_position():
    """A bump early or late in the series changes only the time bins that see it."""
    torch.manual_seed(0)
    bins = {s.name: s for s in core_encoders()}["ecg/cnn-bins"].build(InputSpec("sequence", (1, 320)), 128 * 8).eval()
    x = torch.zeros(2, 1, 320)
    x[0, 0, 20:30] = 3.0
    x[1, 0, 290:300] = 3.0
    z = bins(x).view(2, 128, 8).detach()
    assert torch.allclose(z[0, :, 3:5], z[1, :, 3:5])  # middle bins: background in both
    assert not torch.allclose(z[0, :, 0], z[1, :, 0]) and not torch.allclose(z[0, :, 7], z[1, :, 7])


def test_bins_without_a_multiple_of_128_get_a_linear_head():
    spec = {s.name: s for s in core_encoders()}["ecg/cnn-bins"]
    exact, other = spec.build(InputSpec("sequence", (1, 140)), 256), spec.build(InputSpec("sequence", (1, 140)), 200)
    assert isinstance(exact.head, torch.nn.Identity) and isinstance(other.head, torch.nn.Linear)
    assert other(torch.randn(3, 1, 140)).shape == (3, 200)
