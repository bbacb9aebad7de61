"""Projector banks (deterministic for a seed), encoders (shape, bf16 autocast), attention MIL."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.projectors import bank_hash, build_bank
from core.specs import InputSpec, Task
from core_pathology import encoders, mil, projectors

SPEC = InputSpec("image", (3, 32, 32))


def test_conv2d_bank_is_deterministic_for_a_seed():
    sample = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    make = lambda n: projectors.build_conv2d_bank(SPEC, n, 8)  # noqa: E731
    a, b, c = (build_bank(make, 4, candidates_per_slot=3, sample=sample, seed=s) for s in (7, 7, 8))
    assert bank_hash(a) == bank_hash(b) != bank_hash(c)
    assert all(p.shape[0] == 4 and not p.requires_grad for p in a.parameters())
    with torch.no_grad():
        out = a(sample)
    assert out.shape == (4, 16, 8) and torch.equal(out, b(sample))
    # one module, not a loop: the bank equals its networks evaluated one by one
    with torch.no_grad():
        single = torch.stack([a.select([j])(sample)[0] for j in range(4)])
    assert torch.allclose(out, single, atol=1e-5)


@pytest.mark.parametrize("name", ["build_small_cnn", "build_resnet10"])
def test_encoders_map_tiles_to_dim_also_under_bf16_autocast(name):
    torch.manual_seed(0)
    enc = getattr(encoders, name)(SPEC, 12)
    x = torch.randn(4, 3, 32, 32)
    assert enc(x).shape == (4, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(x)
    assert out.shape == (4, 12) and torch.isfinite(out.float()).all()
    out.float().sum().backward()
    assert all(p.grad is not None for p in enc.parameters() if p.requires_grad)


def test_densenet_has_no_classification_layer():
    enc = encoders.build_densenet121(SPEC, 10)
    assert isinstance(enc.features.class_layers.out, torch.nn.Identity)
    assert enc(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def _bags(n, rng):
    """Bags of 5-15 tiles; a bag is positive iff one of its tiles comes from the shifted class."""
    bags, y = [], []
    for i in range(n):
        b = rng.normal(size=(rng.integers(5, 16), 8)).astype(np.float32)
        if i % 2:
            b[rng.integers(len(b)), :] += 4.0
        bags.append(b)
        y.append(i % 2)
    return bags, np.array(y)


def test_attention_mil_finds_the_key_instance(rng):
    task = Task("binary", ("neg", "pos"))
    train, val, test = _bags(120, rng), _bags(40, rng), _bags(60, rng)
    result = mil.attention_mil(train, val, test, task, seed=0)
    pooled = mil.mean_pool(train, val, test, task, seed=0)
    assert result["accuracy"] >= 0.9 and result["auroc"] > pooled["auroc"]
    model = mil.AttentionMIL(8, 1)
    x, mask = mil.pad([train[0][0], train[0][1]])
    weights = model.attention(x, mask)
    assert torch.allclose(weights.sum(1), torch.ones(2)) and (weights[~mask] == 0).all()


def test_h5_output_without_h5py_is_a_clear_error(monkeypatch, tmp_path):
    import sys

    from core import embedding
    from core.errors import UserError

    monkeypatch.setitem(sys.modules, "h5py", None)  # as if it were not installed
    with pytest.raises(UserError, match=r"tiles.h5: writing .h5 needs h5py \(pip install h5py\)"):
        embedding._h5py(tmp_path / "tiles.h5")


def test_preprocess_scales_and_optionally_stain_normalises():
    from core_pathology.synthetic import BACKGROUND, tissue_pixels
    from core_pathology.transforms import Preprocess

    tile = np.moveaxis(tissue_pixels((48, 48), seed=1), -1, 0)
    plain = Preprocess(32)
    x = plain(tile)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1
    assert torch.allclose(Preprocess(48)(tile), torch.from_numpy(tile / 127.5 - 1).float(), atol=1e-6)
    macenko = Preprocess(48, stain_norm="macenko")
    assert not np.array_equal(macenko.pixels(tile), tile) and macenko.unnormalised == 0
    glass = np.moveaxis(np.full((48, 48, 3), BACKGROUND, np.uint8), -1, 0)
    assert np.array_equal(macenko.pixels(glass), glass) and macenko.unnormalised == 1  # too little stain
