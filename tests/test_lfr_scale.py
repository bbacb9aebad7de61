"""LFR at scale (issue 14 item 3): targets recomputed per batch equal the cached ones, and the
predictor phase trains on a seeded subsample of the pool (the whole pool when it is smaller)."""
import numpy as np
import pytest
import torch

from core.config import RunConfig
from core.objectives.lfr import LFRConfig, build_lfr
from core.projectors import projector_build
from core.testing import tiny_dataset
from core.training import PretextModule, embed_with_targets, fit


def lfr_for(data, **params):
    from core.plugins import get_plugin_manager

    proj = get_plugin_manager().get("projector", "core/mlp")
    sample = torch.stack([data.splits["pretrain"][i][0] for i in range(32)])
    torch.manual_seed(1)  # the predictor heads' init
    return build_lfr(data.input_spec, 16, {"k": 3, "candidates_per_slot": 2, "pred_epochs": 2, **params},
                     projector_build(proj, data.input_spec), sample=sample)


def encoder_for(data):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 16))


def test_cache_size_rule():
    data = tiny_dataset(n=48)
    lfr = lfr_for(data)
    assert lfr.caches_targets(1000) and not lfr_for(data, target_cache="off").caches_targets(10)
    small = lfr_for(data, target_cache_mb=0)
    assert not small.caches_targets(1) and lfr_for(data, target_cache="on", target_cache_mb=0).caches_targets(10 ** 9)
    with pytest.raises(ValueError, match="target_cache"):
        LFRConfig(target_cache="maybe")


def test_recomputed_targets_equal_cached_ones():
    from core.training import make_loader

    data = tiny_dataset(n=48)
    pool = data.splits["pretrain"]
    cached, fresh = lfr_for(data, target_cache="on"), lfr_for(data, target_cache="off")
    for lfr in (cached, fresh):
        lfr.prepare(None, make_loader(pool, 256), "cpu")
    assert cached.cached and not fresh.cached and fresh.targets.shape[0] == 0
    x, _, index = next(iter(make_loader(pool, 10)))
    torch.testing.assert_close(fresh.batch_targets(x), cached.targets[index])
    z = torch.randn(10, 16)
    torch.testing.assert_close(fresh.encoder_loss(z, x, index), cached.encoder_loss(z, x, index))
    assert cached.pool_targets(x) is None and fresh.pool_targets(x).shape == (10, 3, 16)


def fit_history(tmp_path, data, name, **params):
    cfg = RunConfig(epochs=3, batch_size=8, dim=16, seed=0, accelerator="cpu", progress=False)
    module = PretextModule(encoder_for(data), lfr_for(data, **params), data.splits["pretrain"], cfg)
    torch.manual_seed(0)
    fit(module, cfg, tmp_path / name)
    return module.history, module.encoder.state_dict()


def test_inner_phase_with_recomputed_targets_matches_cached(one_thread):
    from core.training import make_loader

    data = tiny_dataset(n=48)
    pool = data.splits["pretrain"]
    losses = []
    for mode in ("on", "off"):
        lfr = lfr_for(data, target_cache=mode)
        lfr.prepare(None, make_loader(pool, 256), "cpu")
        z, targets = embed_with_targets(encoder_for(data), pool, "cpu", lfr.pool_targets)
        assert (targets is None) == (mode == "on")
        opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-3)
        extra = {} if targets is None else {"targets": targets}
        losses.append(lfr.inner_phase(z, torch.arange(len(pool)), opt, 8, torch.Generator().manual_seed(0), **extra))
        losses.append(lfr.predictors.weight0.detach().clone())
    assert losses[0] == pytest.approx(losses[2], rel=1e-6)
    torch.testing.assert_close(losses[1], losses[3])


def test_predictor_phase_subsample(tmp_path, one_thread):
    data = tiny_dataset(n=48)  # pool: train + val = 36
    whole, _ = fit_history(tmp_path, data, "default")
    at_size, _ = fit_history(tmp_path, data, "at", pred_sample=36)
    assert whole == at_size  # a pool at or under pred_sample is used whole: identical losses
    sub, _ = fit_history(tmp_path, data, "sub", pred_sample=10)
    assert [h["encoder_loss"] for h in sub][0] == whole[0]["encoder_loss"]  # the first encoder epoch is the same
    assert sub[0]["predictor_loss"] != whole[0]["predictor_loss"] and np.isfinite(sub[0]["predictor_loss"])


def test_inner_sample_is_seeded_sorted_and_sized(tmp_path):
    data = tiny_dataset(n=48)
    cfg = RunConfig(epochs=1, batch_size=8, dim=16, seed=3)
    module = PretextModule(encoder_for(data), lfr_for(data, pred_sample=10), data.splits["pretrain"], cfg)
    first = module._inner_sample()
    assert len(first) == 10 and (np.diff(first) > 0).all() and first.max() < 36
    np.testing.assert_array_equal(first, module._inner_sample())  # same epoch, same sample


def test_embed_with_targets_matches_embed():
    from core.training import embed, make_loader

    data = tiny_dataset(n=48)
    encoder = encoder_for(data)
    lfr = lfr_for(data, target_cache="off")
    lfr.prepare(None, make_loader(data.splits["pretrain"], 256), "cpu")  # decides not to cache
    z, t = embed_with_targets(encoder, data.splits["test"], "cpu", lfr.pool_targets, batch_size=5)
    np.testing.assert_allclose(z.numpy(), embed(encoder, data.splits["test"]), rtol=1e-6)
    x = torch.stack([data.splits["test"][i][0] for i in range(len(data.splits["test"]))])
    torch.testing.assert_close(t, lfr.batch_targets(x))


def test_long_records_are_projected_a_few_at_a_time():
    from core.projectors import candidate_chunk
    from core.training import prepare_batch_size

    short, long = torch.zeros(256, 1, 140), torch.zeros(64, 12, 5000)
    assert candidate_chunk(short, 60) == 2048 // 60  # the ECG5000 default: unchanged
    assert candidate_chunk(long, 60) == 1
    assert prepare_batch_size(tiny_dataset(n=48).splits["pretrain"], 128) == 256
    from core.data import ArrayDataset

    records = ArrayDataset(np.zeros((4, 12, 5000), np.float32))  # 240 kB each
    assert prepare_batch_size(records, 32) == 16 * 2 ** 20 // 240000  # 69 per batch, not 256
    assert prepare_batch_size(records, 128) == 128  # never under the training batch
    from core.training import budget_batch_size

    assert budget_batch_size(records) == 69 and budget_batch_size(tiny_dataset(n=48).splits["pretrain"]) == 256
