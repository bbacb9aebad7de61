"""Projector banks: stacked evaluation equals a per-network loop, init schemes, CKA, DPP, build."""
import math

import pytest
import torch

from core.objectives.reference import unstack_bank
from core.projectors import (
    Conv1dBank, Conv2dBank, MLPBank, TokenConvBank, bank_hash, build_bank, build_candidates,
    cka_kernel, default_bank_factory, greedy_map_dpp, init_bank, make_bank_for_input, select_networks,
)
from core.specs import InputSpec

ATOL = 1e-6


def _case(kind, k=4, out_dim=5):
    g = torch.Generator().manual_seed(7)
    if kind == "mlp":
        return MLPBank(12, k, out_dim, hidden=9, depth=3), torch.randn(6, 3, 4, generator=g, dtype=torch.float64)
    if kind == "conv1d":
        return Conv1dBank(3, k, out_dim, hidden=6, depth=3), torch.randn(6, 3, 23, generator=g, dtype=torch.float64)
    if kind == "conv2d":
        return Conv2dBank(2, k, out_dim, hidden=5, depth=2), torch.randn(6, 2, 11, 9, generator=g, dtype=torch.float64)
    ids = torch.randint(1, 13, (6, 10), generator=g)
    ids[:, 7:] = 0  # trailing padding
    ids[0, 3:] = 0
    return TokenConvBank(13, k, out_dim, embed_dim=4, hidden=7), ids


KINDS = ["mlp", "conv1d", "conv2d", "token"]


@pytest.mark.parametrize("scheme", ["default", "beta+dropout"])
@pytest.mark.parametrize("kind", KINDS)
def test_bank_equals_per_network_loop(kind, scheme):
    bank, x = _case(kind)
    init_bank(bank.double(), scheme, torch.Generator().manual_seed(3))
    out = bank(x)
    assert out.shape == (4, 6, 5) and out.dtype == torch.float64
    ref = torch.stack([net(x) for net in unstack_bank(bank)])
    torch.testing.assert_close(out, ref, atol=ATOL, rtol=0)
    assert out.std() > 1e-3  # not a degenerate all-zero comparison


@pytest.mark.parametrize("kind", KINDS)
def test_select_slices_networks(kind):
    bank, x = _case(kind)
    bank.double()
    sub = bank.select([2, 0])
    assert type(sub) is type(bank) and sub.k == 2 and bank.k == 4
    torch.testing.assert_close(sub(x), bank(x)[[2, 0]], atol=ATOL, rtol=0)
    assert all(p.shape[0] == 2 for p in sub.parameters())
    with pytest.raises(ValueError):
        select_networks(bank, [4])


def test_token_bank_ignores_padding_length():
    bank = TokenConvBank(9, 3, 4, embed_dim=3, hidden=5).double()
    ids = torch.tensor([[3, 1, 4, 1, 5]])
    padded = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], 1)
    torch.testing.assert_close(bank(ids), bank(padded), atol=1e-12, rtol=0)
    # id 0 does not contribute, whatever its embedding row holds
    with torch.no_grad():
        bank.embedding[:, 0] = 100.0
    torch.testing.assert_close(bank(ids), bank(padded), atol=1e-12, rtol=0)


def test_conv1d_bank_accepts_mono_without_channel_axis():
    bank = Conv1dBank(1, 2, 3).double()
    x = torch.randn(4, 50, dtype=torch.float64)
    torch.testing.assert_close(bank(x), bank(x.unsqueeze(1)))


# ----------------------------------------------------------------------- init
def test_default_init_uses_per_network_fan_in():
    bank = MLPBank(40, 8, 3, hidden=20)
    init_bank(bank, "default", torch.Generator().manual_seed(0))
    for name, fan in [("weight0", 40), ("bias0", 40), ("weight1", 20), ("bias1", 20)]:
        p = getattr(bank, name)
        assert bank.fan_in(name) == fan
        assert p.abs().max() <= 1 / math.sqrt(fan) + 1e-7
        assert p.abs().max() > 0.9 / math.sqrt(fan)
    conv = Conv1dBank(3, 2, 4, hidden=5, kernel_size=7)
    assert conv.fan_in("weight0") == 21 and conv.fan_in("bias1") == 35 and conv.fan_in("weight3") == 5


def test_beta_init_is_arcsine_on_unit_interval():
    bank = MLPBank(100, 4, 8, hidden=100)
    init_bank(bank, "beta", torch.Generator().manual_seed(0))
    w = bank.weight0.flatten()
    assert w.min() >= -1 and w.max() <= 1
    near_edges, near_centre = (w.abs() > 0.9).float().mean(), (w.abs() < 0.1).float().mean()
    # arcsine law: P(|w| > .9) = 1 - 2/pi asin(.9) ~ .287, P(|w| < .1) = 2/pi asin(.1) ~ .064
    assert abs(near_edges - 0.287) < 0.02 and abs(near_centre - 0.064) < 0.01
    assert abs(w.mean()) < 0.02
    assert bank.bias0.abs().max() <= 1 / math.sqrt(100) + 1e-7  # biases keep the default init


@pytest.mark.parametrize("scheme", ["default+dropout", "beta+dropout"])
def test_dropout_zeros_40_percent_and_survives_other_init(scheme):
    bank = Conv1dBank(3, 5, 6, hidden=8)
    init_bank(bank, scheme, torch.Generator().manual_seed(1))
    for name, p in bank.named_parameters():
        per_net = (p == 0).flatten(1).float().mean(1)
        if p.ndim >= 3:
            n = p[0].numel()
            torch.testing.assert_close(per_net, torch.full((5,), round(0.4 * n) / n))
        else:
            assert per_net.max() == 0, name  # biases untouched


def test_init_deterministic_and_validated():
    a, b = MLPBank(6, 3, 2), MLPBank(6, 3, 2)
    init_bank(a, "beta+dropout", torch.Generator().manual_seed(5))
    init_bank(b, "beta+dropout", torch.Generator().manual_seed(5))
    assert bank_hash(a) == bank_hash(b)
    init_bank(b, "beta+dropout", torch.Generator().manual_seed(6))
    assert bank_hash(a) != bank_hash(b)
    for bad in ["xavier", "dropout", "beta+noise"]:
        with pytest.raises(ValueError, match="init scheme"):
            init_bank(a, bad, torch.Generator())


# ----------------------------------------------------------------- CKA and DPP
def _cka_loop(outputs):
    m = outputs.shape[0]
    x = [o / o.norm(dim=1, keepdim=True) for o in outputs]
    out = torch.empty(m, m, dtype=torch.float64)
    for a in range(m):
        for b in range(m):
            out[a, b] = (x[a].T @ x[b]).norm() ** 2 / ((x[a].T @ x[a]).norm() * (x[b].T @ x[b]).norm())
    return out


@pytest.mark.parametrize("n,d", [(30, 4), (6, 9)])  # feature-space form and N×N form
def test_cka_kernel_matches_formula(n, d):
    outputs = torch.randn(5, n, d, dtype=torch.float64)
    outputs[3] = outputs[1] @ torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))[0]  # rotation
    kernel = cka_kernel(outputs)
    torch.testing.assert_close(kernel, _cka_loop(outputs), atol=1e-10, rtol=0)
    torch.testing.assert_close(kernel.diagonal(), torch.ones(5, dtype=torch.float64))
    assert abs(kernel[1, 3] - 1) < 1e-10 and kernel[0, 2] < 0.99  # invariant to rotations only


def _greedy_logdet(L, k):
    chosen = []
    for _ in range(k):
        best = max((i for i in range(len(L)) if i not in chosen),
                   key=lambda i: torch.logdet(L[chosen + [i]][:, chosen + [i]]))
        chosen.append(best)
    return chosen


def test_dpp_matches_naive_greedy_log_det():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(12, 20, generator=g, dtype=torch.float64)
    L = f @ f.T
    assert greedy_map_dpp(L, 6).tolist() == _greedy_logdet(L, 6)


def test_dpp_returns_k_distinct_with_duplicates_and_rank_deficiency():
    f = torch.randn(3, 8, dtype=torch.float64)
    L = (f @ f.T).repeat(4, 4)  # 12 candidates, 4 copies of 3 -> rank 3
    idx = greedy_map_dpp(L, 5)
    assert len(idx) == 5 and len(set(idx.tolist())) == 5
    assert sorted(i % 3 for i in idx[:3].tolist()) == [0, 1, 2]  # the 3 distinct ones come first
    idx = greedy_map_dpp(torch.ones(7, 7), 7)
    assert sorted(idx.tolist()) == list(range(7))
    assert greedy_map_dpp(torch.zeros(4, 4), 2).tolist() == greedy_map_dpp(torch.zeros(4, 4), 2).tolist()
    with pytest.raises(ValueError):
        greedy_map_dpp(torch.eye(3), 4)


# ----------------------------------------------------------------------- build
def _make(n):
    return MLPBank(10, n, 4, hidden=16)


def test_build_bank_seeded_frozen_and_keeps_global_rng():
    sample = torch.randn(40, 10)
    state = torch.random.get_rng_state()
    a = build_bank(_make, 3, candidates_per_slot=4, sample=sample, seed=11)
    assert torch.equal(state, torch.random.get_rng_state())
    b = build_bank(_make, 3, candidates_per_slot=4, sample=sample, seed=11)
    c = build_bank(_make, 3, candidates_per_slot=4, sample=sample, seed=12)
    assert bank_hash(a) == bank_hash(b) != bank_hash(c)
    assert a.k == 3 and not a.training
    assert all(not p.requires_grad for p in a.parameters())
    assert a(sample).shape == (3, 40, 4)


def test_build_bank_selects_diverse_candidates_by_dpp():
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(64, 10, generator=g)
    k, r = 4, 5
    cands = build_candidates(_make, k * r, "default", seed=3)
    with torch.no_grad():
        kernel = cka_kernel(cands.double()(sample.double()))
    idx = greedy_map_dpp(kernel, k)
    bank = build_bank(_make, k, candidates_per_slot=r, sample=sample, seed=3)
    assert torch.equal(bank.weight0, cands.weight0[idx])
    off = lambda s: kernel[s][:, s][~torch.eye(k, dtype=torch.bool)].mean()  # noqa: E731
    assert off(idx) < off(torch.arange(k))  # more diverse than the first k


def test_build_bank_without_sample_keeps_k_networks():
    bank = build_bank(_make, 3, candidates_per_slot=10, sample=None, seed=0)
    assert bank.k == 3 and bank.weight0.shape[0] == 3
    dropped = build_bank(_make, 3, init="beta+dropout", seed=0)
    assert (dropped.weight0 == 0).float().mean().item() == pytest.approx(0.4, abs=0.01)


def test_bank_hash_sees_every_value():
    bank = build_bank(_make, 2, seed=0)
    h = bank_hash(bank)
    with torch.no_grad():
        bank.bias1[1, 3] += 1e-6
    assert bank_hash(bank) != h


def test_make_bank_for_input():
    assert isinstance(make_bank_for_input(InputSpec("vector", (7,)), 2, 3), MLPBank)
    assert isinstance(make_bank_for_input(InputSpec("sequence", (12, 100)), 2, 3), Conv1dBank)
    assert isinstance(make_bank_for_input(InputSpec("audio", (1, 800)), 2, 3), Conv1dBank)
    assert isinstance(make_bank_for_input(InputSpec("image", (3, 16, 16)), 2, 3), Conv2dBank)
    tok = default_bank_factory(InputSpec("tokens", (20,), vocab_size=25))(2, 3)
    assert isinstance(tok, TokenConvBank) and tok(torch.randint(0, 25, (4, 20))).shape == (2, 4, 3)
    with pytest.raises(ValueError, match="graph"):
        make_bank_for_input(InputSpec("graph", (5,)), 2, 3)
