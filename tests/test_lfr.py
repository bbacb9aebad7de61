"""LFR objective: stacked losses/predictors equal the per-target loop reference; schedule; config."""
import copy

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from core.data import ArrayDataset
from core.objectives.barlow import barlow_batchwise, cosine_loss, row_normalize
from core.objectives.lfr import LFR, LFRConfig, StackedPredictors, build_lfr
from core.objectives.reference import (
    loop_loss, released_outer_epoch, unstack_bank, unstack_predictors,
)
from core.projectors import MLPBank, bank_hash, build_bank
from core.specs import InputSpec

ATOL = 1e-6
F64 = torch.float64


def _pair(k, b, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(k, b, d, generator=g, dtype=F64, requires_grad=True)
    target = torch.randn(k, b, d, generator=g, dtype=F64, requires_grad=True)
    return pred, target


def _grad(loss, x):
    (g,) = torch.autograd.grad(loss, x)
    return g


# ------------------------------------------------------------------------ losses
@pytest.mark.parametrize("form", ["auto", "bxb", "gram"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("b,d", [(5, 12), (12, 5)])  # B < d and B > d
def test_barlow_equals_loop_values_and_grads(form, reduction, b, d):
    pred, target = _pair(3, b, d)
    loss = barlow_batchwise(pred, target, lambd=0.05, reduction=reduction, form=form)
    ref = loop_loss(list(pred), list(target), lambd=0.05, reduction=reduction)
    torch.testing.assert_close(loss, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(_grad(loss, pred), _grad(ref, pred), atol=ATOL, rtol=0)


def test_barlow_forms_agree_and_targets_are_constants():
    for b, d in [(4, 16), (16, 4)]:
        pred, target = _pair(2, b, d, seed=1)
        gram = barlow_batchwise(pred, target, form="gram")
        bxb = barlow_batchwise(pred, target, form="bxb")
        torch.testing.assert_close(gram, bxb, atol=1e-10, rtol=0)
        torch.testing.assert_close(_grad(gram, pred), _grad(bxb, pred), atol=1e-10, rtol=0)
        barlow_batchwise(pred, target, form="gram").backward()
        assert target.grad is None and pred.grad is not None


@pytest.mark.parametrize("b,d,form,side", [(16, 4, "auto", 4), (4, 16, "auto", 4), (4, 16, "gram", 16),
                                            (16, 4, "bxb", 16)])
def test_barlow_form_choice_sets_matrix_size(monkeypatch, b, d, form, side):
    shapes, bmm = [], torch.bmm
    monkeypatch.setattr(torch, "bmm", lambda a, c: shapes.append(bmm(a, c).shape[1:]) or bmm(a, c))
    barlow_batchwise(*_pair(2, b, d), form=form)
    assert shapes and all(s == (side, side) for s in shapes)  # auto: d×d Gram iff d < B, else B×B


def test_barlow_known_values_and_reduction():
    eye = torch.eye(6, dtype=F64)[:4].expand(2, 4, 6)  # orthonormal rows: C = I
    assert barlow_batchwise(eye, eye).item() == pytest.approx(0.0, abs=1e-12)
    assert barlow_batchwise(-eye, eye).item() == pytest.approx(16.0)  # Σ (−1 − 1)² over 4 rows
    ones = torch.ones(1, 4, 6, dtype=F64)  # all C_ij = 1: λ·(B² − B) off-diagonal
    assert barlow_batchwise(ones, ones, lambd=0.5).item() == pytest.approx(0.5 * 12)
    pred, target = _pair(3, 7, 5)
    torch.testing.assert_close(barlow_batchwise(pred, target, reduction="mean"),
                               barlow_batchwise(pred, target, reduction="sum") / 7)
    per_target = torch.stack([barlow_batchwise(pred[i:i + 1], target[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(barlow_batchwise(pred, target), per_target.mean())  # mean over K


def test_barlow_validates_arguments():
    pred, target = _pair(2, 3, 4)
    for kwargs in [dict(reduction="max"), dict(form="fast"), dict(lambd=-1)]:
        with pytest.raises(ValueError):
            barlow_batchwise(pred, target, **kwargs)
    with pytest.raises(ValueError, match="K, B, d"):
        barlow_batchwise(pred, target[:, :2])


def test_cosine_equals_loop():
    pred, target = _pair(3, 6, 4)
    loss = cosine_loss(pred, target)
    ref = loop_loss(list(pred), list(target), loss="cosine")
    torch.testing.assert_close(loss, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(_grad(loss, pred), _grad(ref, pred), atol=ATOL, rtol=0)
    assert cosine_loss(target, target).item() == pytest.approx(0, abs=1e-12)


def test_row_normalize():
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    torch.testing.assert_close(row_normalize(x), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


# -------------------------------------------------------------------- predictors
@pytest.mark.parametrize("layers", [1, 2])
def test_stacked_predictors_equal_loop(layers):
    torch.manual_seed(0)
    stacked = StackedPredictors(3, 7, 4, layers=layers, hidden=5).double()
    heads = unstack_predictors(stacked)
    z = torch.randn(9, 7, dtype=F64, requires_grad=True)
    w = torch.randn(3, 9, 4, dtype=F64)
    for train in (True, False):
        stacked.train(train), heads.train(train)
        out = stacked(z)
        ref = torch.stack([h(z) for h in heads])
        assert out.shape == (3, 9, 4)
        torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
        stacked.zero_grad(), heads.zero_grad()
        gz, = torch.autograd.grad((out * w).sum(), z, retain_graph=True)
        gz_ref, = torch.autograd.grad((ref * w).sum(), z, retain_graph=True)
        torch.testing.assert_close(gz, gz_ref, atol=ATOL, rtol=0)
        (out * w).sum().backward(), (ref * w).sum().backward()
        for k, head in enumerate(heads):
            first, last = (head, head) if layers == 1 else (head[0], head[3])
            torch.testing.assert_close(stacked.weight0.grad[k], first.weight.grad, atol=ATOL, rtol=0)
            bias, weight = ("bias0", "weight0") if layers == 1 else ("bias1", "weight1")
            torch.testing.assert_close(getattr(stacked, weight).grad[k], last.weight.grad, atol=ATOL, rtol=0)
            torch.testing.assert_close(getattr(stacked, bias).grad[k], last.bias.grad, atol=ATOL, rtol=0)
            if layers == 2:  # one BatchNorm1d(K·H) == K BatchNorm1d(H): stats and affine grads
                sl = slice(5 * k, 5 * k + 5)
                torch.testing.assert_close(stacked.bn.running_mean[sl], head[1].running_mean)
                torch.testing.assert_close(stacked.bn.running_var[sl], head[1].running_var)
                torch.testing.assert_close(stacked.bn.weight.grad[sl], head[1].weight.grad, atol=ATOL, rtol=0)


def test_stacked_predictor_defaults_and_validation():
    assert StackedPredictors(2, 8, 3, layers=2).hidden == 256
    assert StackedPredictors(2, 8, 3, layers=1).weight0.shape == (2, 3, 8)
    with pytest.raises(ValueError):
        StackedPredictors(2, 8, 3, layers=3)


# ------------------------------------------------------------------ LFR objective
N, F_IN, DIM = 48, 10, 6


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, F_IN, generator=g, dtype=F64)
    x[:, :3] += 2 * x[:, 3:6]  # some structure to learn
    return x


def _lfr(**cfg):
    cfg = LFRConfig(**{"k": 3, "candidates_per_slot": 3, "proj_dim": 5, **cfg})
    bank = build_bank(lambda n: MLPBank(F_IN, n, cfg.proj_dim, hidden=16), cfg.k,
                      candidates_per_slot=cfg.candidates_per_slot, sample=_data(9)[:20], seed=cfg.seed)
    torch.manual_seed(1)
    return LFR(bank, cfg, DIM).double()


def _encoder(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(F_IN, 16), nn.ReLU(), nn.Linear(16, DIM)).double()


def _prepared(x, **cfg):
    lfr = _lfr(**cfg)
    loader = DataLoader(ArrayDataset(x.numpy()), batch_size=7, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    lfr.prepare(None, loader, "cpu")
    return lfr


def test_prepare_caches_targets_by_sample_index():
    x = _data()
    lfr = _prepared(x)
    assert lfr.targets.shape == (N, 3, 5) and lfr.targets.dtype == F64
    torch.testing.assert_close(lfr.targets, lfr.bank(x).transpose(0, 1), atol=1e-12, rtol=0)
    assert "targets" not in lfr.state_dict() and all(t is not lfr.targets for t in lfr.buffers())
    with pytest.raises(ValueError, match="covered"):
        _lfr().prepare(None, _Partial(x), "cpu")
    with pytest.raises(RuntimeError, match="prepare"):
        _lfr().encoder_loss(torch.zeros(2, DIM, dtype=F64), None, torch.tensor([0, 1]))


class _Partial:
    """A loader over the whole dataset that forgets the last batch."""

    def __init__(self, x):
        self.dataset = ArrayDataset(x.numpy())
        self._batches = list(DataLoader(self.dataset, batch_size=8))[:-1]

    def __iter__(self):
        return iter(self._batches)


@pytest.mark.parametrize("layers,reduction,loss", [(1, "sum", "barlow"), (2, "mean", "barlow"), (1, "sum", "cosine")])
def test_encoder_loss_equals_loop_reference(layers, reduction, loss):
    x = _data()
    lfr = _prepared(x, pred_layers=layers, pred_hidden=7, reduction=reduction, loss=loss, lambd=0.02)
    heads, nets = unstack_predictors(lfr.predictors), unstack_bank(lfr.bank)
    index = torch.tensor([5, 0, 17, 33, 2, 40, 41, 8])
    z = torch.randn(8, DIM, dtype=F64, requires_grad=True)
    value = lfr.encoder_loss(z, x[index], index)
    ref = loop_loss([h(z) for h in heads], [net(x[index]) for net in nets], lambd=0.02,
                    reduction=reduction, loss=loss)
    torch.testing.assert_close(value, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(_grad(value, z), _grad(ref, z), atol=ATOL, rtol=0)


def test_alternating_encoder_loss_never_trains_predictors():
    x = _data()
    lfr = _prepared(x, pred_layers=2)
    lfr.predictors.requires_grad_(True)  # even if a trainer forgot to freeze them
    z = torch.randn(8, DIM, dtype=F64, requires_grad=True)
    lfr.encoder_loss(z, None, torch.arange(8)).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(p.grad is None for p in lfr.predictors.parameters())
    joint = _prepared(x, schedule="joint")
    joint.encoder_loss(z, None, torch.arange(8)).backward()
    assert all(p.grad is not None for p in joint.predictors.parameters())


def test_loss_runs_in_float32_under_bf16_autocast():
    x = _data()
    lfr = _prepared(x, pred_layers=2).float()
    z, index = torch.randn(16, DIM), torch.arange(16)
    exact = lfr.encoder_loss(z, None, index)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = lfr.encoder_loss(z, None, index)
    assert exact.dtype == low.dtype == torch.float32
    assert low.item() == pytest.approx(exact.item(), rel=0.05)
    opt = torch.optim.SGD(lfr.inner_parameters(), lr=0.1)
    assert lfr.inner_phase(z.bfloat16(), index, opt, batch_size=8, generator=torch.Generator()) > 0


def test_parameter_partition_by_schedule():
    alt, joint = _lfr(pred_epochs=4), _lfr(schedule="joint")
    n_params = len(list(alt.predictors.parameters()))
    assert alt.encoder_phase_parameters() == [] and len(alt.inner_parameters()) == n_params
    assert alt.inner_epochs == 4 and joint.inner_epochs == 0
    assert joint.inner_parameters() == [] and len(joint.encoder_phase_parameters()) == n_params
    assert not any(p.requires_grad for p in alt.predictors.parameters())
    assert all(p.requires_grad for p in joint.predictors.parameters())
    assert not any(p.requires_grad for p in alt.bank.parameters())
    alt.train()
    assert not alt.bank.training and alt.predictors.training


def test_joint_training_decreases_encoder_loss():
    x = _data()
    lfr, enc = _prepared(x, schedule="joint"), _encoder()
    opt = torch.optim.Adam(list(enc.parameters()) + lfr.encoder_phase_parameters(), lr=1e-2)
    index = torch.arange(N)
    first = lfr.encoder_loss(enc(x), x, index).item()
    for _ in range(40):
        loss = lfr.encoder_loss(enc(x), x, index)
        opt.zero_grad(), loss.backward(), opt.step()
    assert lfr.encoder_loss(enc(x), x, index).item() < 0.8 * first


def test_alternating_schedule_decreases_loss_and_inner_phase_leaves_encoder():
    x = _data()
    lfr, enc = _prepared(x, pred_epochs=3), _encoder()
    enc_opt = torch.optim.Adam(enc.parameters(), lr=1e-2)
    pred_opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-2)
    index, gen = torch.arange(N), torch.Generator().manual_seed(0)
    first = lfr.encoder_loss(enc(x), x, index).item()
    for _ in range(6):
        for batch in index.split(16):
            loss = lfr.encoder_loss(enc(x[batch]), x[batch], batch)
            enc_opt.zero_grad(), loss.backward(), enc_opt.step()
        with torch.no_grad():
            emb = enc(x)
        before = copy.deepcopy(enc.state_dict())
        inner = lfr.inner_phase(emb, index, pred_opt, batch_size=16, generator=gen)
        assert isinstance(inner, float) and inner == inner
        assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
        assert not any(p.requires_grad for p in lfr.predictors.parameters())
    assert lfr.encoder_loss(enc(x), x, index).item() < 0.8 * first


def test_inner_phase_trains_predictors_deterministically():
    x = _data()
    enc = _encoder()
    with torch.no_grad():
        emb = enc(x)
    index = torch.randperm(N, generator=torch.Generator().manual_seed(2))
    runs = []
    for run in range(2):
        lfr = _prepared(x, pred_layers=2, pred_epochs=4)
        torch.manual_seed(100 + run)  # the global RNG must not matter, only the generator
        before = copy.deepcopy(lfr.predictors.state_dict())
        start = lfr.loss(lfr.predictors.eval()(emb[:N]), lfr.targets[index].transpose(0, 1)).item()
        opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-2)
        mean_loss = lfr.inner_phase(emb, index, opt, batch_size=10, generator=torch.Generator().manual_seed(5))
        end = lfr.loss(lfr.predictors.eval()(emb), lfr.targets[index].transpose(0, 1)).item()
        assert end < start and not lfr.predictors.training
        assert not torch.equal(before["weight0"], lfr.predictors.weight0)
        runs.append((mean_loss, lfr.predictors.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(v, runs[1][1][k]) for k, v in runs[0][1].items())


@pytest.mark.parametrize("layers", [1, 2])
def test_schedule_equals_released_outer_epoch(layers):
    """Full-batch outer epoch: cached targets + inner phase on cached embeddings reproduce the
    released loop (targets recomputed per batch, encoder re-run in every predictor step)."""
    x = _data()
    lfr = _prepared(x, pred_layers=layers, pred_hidden=8, pred_epochs=3)
    enc = _encoder()
    ref_enc, heads, nets = copy.deepcopy(enc), unstack_predictors(lfr.predictors), unstack_bank(lfr.bank)
    enc_opt, ref_enc_opt = (torch.optim.Adam(e.parameters(), lr=1e-2) for e in (enc, ref_enc))
    pred_opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-2)
    ref_pred_opt = torch.optim.Adam(heads.parameters(), lr=1e-2)
    for _ in range(2):
        enc.train(), lfr.train()
        loss = lfr.encoder_loss(enc(x), x, torch.arange(N))
        enc_opt.zero_grad(), loss.backward(), enc_opt.step()
        enc.eval()
        with torch.no_grad():
            emb = enc(x)
        lfr.inner_phase(emb, torch.arange(N), pred_opt, batch_size=N, generator=torch.Generator())
        out = released_outer_epoch(ref_enc, nets, heads, [x], ref_enc_opt, ref_pred_opt, pred_epochs=3)
        assert out["encoder_loss"] == pytest.approx(loss.item(), abs=ATOL)
    for a, b in zip(enc.parameters(), ref_enc.parameters()):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)
    torch.testing.assert_close(torch.stack([h(emb) for h in heads.eval()]), lfr.predictors.eval()(emb),
                               atol=ATOL, rtol=0)


# ------------------------------------------------------------------------- config
@pytest.mark.parametrize("bad,match", [
    (dict(k=0), "k must"), (dict(k=2.5), "k must"), (dict(k=True), "k must"),
    (dict(candidates_per_slot=0), "candidates_per_slot"), (dict(proj_dim=0), "proj_dim"),
    (dict(pred_layers=3), "pred_layers"), (dict(lambd=-0.1), "lambd"), (dict(lambd="x"), "lambd"),
    (dict(loss="mse"), "loss"), (dict(reduction="max"), "reduction"), (dict(form="fast"), "form"),
    (dict(schedule="nested"), "schedule"), (dict(pred_epochs=0), "pred_epochs"),
    (dict(init="xavier"), "init"), (dict(dpp_sample=1), "dpp_sample"), (dict(seed=-1), "seed"),
])
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        LFRConfig(**bad)


def test_config_defaults_and_from_params():
    c = LFRConfig()
    assert (c.k, c.candidates_per_slot, c.proj_dim, c.pred_layers, c.lambd, c.pred_epochs, c.init) == \
        (6, 10, None, 1, 0.01, 5, "default")
    assert LFRConfig(schedule="joint", pred_epochs=0).pred_epochs == 0
    assert LFRConfig.from_params({"lambd": "1e-3", "k": 4}).lambd == 1e-3
    with pytest.raises(ValueError, match="'kk'"):
        LFRConfig.from_params({"kk": 4})


def test_build_lfr_is_seeded_and_checks_params():
    spec = InputSpec("vector", (F_IN,))
    sample = _data(3)
    make = lambda n, d: MLPBank(F_IN, n, d, hidden=8)  # noqa: E731
    a = build_lfr(spec, DIM, {"k": 2, "candidates_per_slot": 4, "seed": 3}, make, sample)
    b = build_lfr(spec, DIM, {"k": 2, "candidates_per_slot": 4, "seed": 3}, make, sample)
    assert a.bank.k == 2 and a.bank.out_dim == DIM and a.predictors.out_dim == DIM  # proj_dim None -> dim
    assert bank_hash(a.bank) == bank_hash(b.bank)
    assert build_lfr(spec, DIM, {"proj_dim": 3}, make, None).bank.out_dim == 3
    with pytest.raises(ValueError, match="'pred_dim'"):
        build_lfr(spec, DIM, {"pred_dim": 3}, make, sample)
    with pytest.raises(ValueError, match="k=3"):
        LFR(MLPBank(F_IN, 3, 4), LFRConfig(k=2), DIM)


def test_lfr_says_its_sample_size_and_rank_checks_through_the_objective_protocol():
    """Generic code asks the spec for the sample size and the objective for its rank checks."""
    from core.objectives.base import Objective
    from core.plugins import get_plugin_manager

    spec = get_plugin_manager().get("objective", "core/lfr")
    assert spec.sample_size({}) == 256 and spec.sample_size({"dpp_sample": 64}) == 64
    assert get_plugin_manager().get("objective", "core/diet").sample_size == 256
    x = torch.randn(16, 10, generator=torch.Generator().manual_seed(0))
    lfr = build_lfr(InputSpec("vector", (10,)), 6, {"k": 2, "candidates_per_slot": 2},
                    lambda n, d: MLPBank(10, n, d, hidden=8), x)
    assert isinstance(lfr, Objective)
    assert lfr.rank_checks() == {"projector_bank": bank_hash(lfr.bank)}
    assert Objective().rank_checks() == {}
