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
