"""Projector banks: one module with a leading K axis, frozen, deterministic for a seed."""
from __future__ import annotations

import pytest
import torch

from core.objectives.lfr import build_lfr
from core.projectors import bank_hash, build_bank, projector_build, select_networks
from core_molecule import plugin
from core_molecule.datasets import load_file
from core_molecule.graphs import collate
from core_molecule.projectors import GraphBank
from core_molecule.synthetic import solubility_rows, write_csv

BANKS = {s.name: s for s in plugin.core_projectors()}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rows = [{"smiles": r["smiles"], "y": r["logS"]} for r in solubility_rows(30)]
    path = write_csv(tmp_path_factory.mktemp("p") / "p.csv", rows)
    return load_file(str(path), seed=0, on_bad_record="error", options={"split": "random"})


@pytest.fixture(scope="module")
def sample(data):
    pool = data.splits["pretrain"]
    return collate([pool[i] for i in range(len(pool))])[0]


@pytest.mark.parametrize("name", sorted(BANKS))
def test_bank_is_frozen_deterministic_and_seeded(name, data, sample):
    make = lambda n: BANKS[name].build(data.input_spec, n, 8)  # noqa: E731
    bank = build_bank(make, 3, candidates_per_slot=4, sample=sample, seed=7)
    assert bank.k == 3 and not bank.training
    assert all(not p.requires_grad for p in bank.parameters())
    assert all(p.shape[0] == 3 for p in bank.parameters())  # every parameter carries the K axis
    out = bank(sample)
    assert out.shape == (3, len(sample), 8) and torch.isfinite(out).all()
    assert not out.requires_grad
    again = build_bank(make, 3, candidates_per_slot=4, sample=sample, seed=7)
    assert bank_hash(again) == bank_hash(bank)
    torch.testing.assert_close(again(sample), out, rtol=0, atol=0)
    other = build_bank(make, 3, candidates_per_slot=4, sample=sample, seed=8)
    assert bank_hash(other) != bank_hash(bank)
    # the K networks differ from each other
    assert not torch.allclose(out[0], out[1])


def test_graph_bank_equals_its_networks_one_by_one(sample, data):
    torch.manual_seed(0)
    bank = GraphBank(data.input_spec.shape[0], data.input_spec.shape[1], 5, 6).eval()
    with torch.no_grad():
        together = bank(sample)
        for k in range(5):
            single = select_networks(bank, [k])
            torch.testing.assert_close(single(sample)[0], together[k], rtol=1e-5, atol=1e-5)


def test_lfr_targets_cached_by_index_from_collated_batches(data):
    """LFR builds on a molecule bank from a collated sample and caches targets per sample index."""
    from core.training import make_loader

    pool = data.splits["pretrain"]
    sample = collate([pool[i] for i in range(len(pool))])[0]
    lfr = build_lfr(data.input_spec, 16, {"k": 2, "candidates_per_slot": 3, "seed": 1},
                    projector_build(BANKS["molecule/graph"], data.input_spec), sample=sample)
    lfr.prepare(None, make_loader(pool, 7, shuffle=True), "cpu")
    assert lfr.targets.shape == (len(pool), 2, 16)
    with torch.no_grad():
        direct = lfr.bank(sample).transpose(0, 1)
    torch.testing.assert_close(lfr.targets, direct, rtol=1e-4, atol=1e-5)
