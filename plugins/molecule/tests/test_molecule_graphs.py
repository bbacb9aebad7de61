"""Exact batching: a molecule's embedding does not depend on its batch mates."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core_molecule import chem
from core_molecule.datasets import load_file
from core_molecule.encoders import build_fingerprint_mlp, build_gin, build_smiles_cnn
from core_molecule.graphs import collate, mean_pool, sum_pool
from core_molecule.projectors import (build_composition_fingerprint_bank, build_fingerprint_bank, build_graph_bank,
                                     build_token_bank)
from core_molecule.synthetic import write_csv


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from core_molecule.synthetic import solubility_rows

    rows = [{"smiles": r["smiles"], "y": r["logS"]} for r in solubility_rows(24, start=3)]
    rows.append({"smiles": "CC(=O)Oc1ccccc1C(=O)O" * 1, "y": -1.0})
    rows.append({"smiles": "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC(O)=O", "y": -8.0})  # long
    rows.append({"smiles": "[Na+].[Cl-]", "y": 0.5})  # two one-atom graphs, no bonds
    path = write_csv(tmp_path_factory.mktemp("g") / "g.csv", rows)
    return load_file(str(path), seed=0, on_bad_record="error", options={"split": "random"})


def test_collate_is_the_disjoint_union(data):
    ds = data.splits["train"]
    items = [ds[i] for i in range(5)]
    batch, y, index = collate(items)
    store = ds.store
    sizes = [int(store.atom_ptr[r + 1] - store.atom_ptr[r]) for r in ds.rows[:5]]
    assert batch.num_graphs == len(batch) == 5 and batch.atoms.shape == (sum(sizes), chem.ATOM_DIM)
    assert torch.equal(batch.graph, torch.repeat_interleave(torch.arange(5), torch.tensor(sizes)))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    src, dst = batch.edge_index
    # every edge stays inside its own molecule
    assert torch.equal(batch.graph[src], batch.graph[dst])
    first = collate([ds[2]])[0]
    mask = batch.graph[src] == 2
    assert torch.equal(batch.edge_index[:, mask] - int(offsets[2]), first.edge_index)
    assert torch.equal(index, torch.arange(5)) and y.shape == (5,)
    assert batch.tokens.shape[0] == 5 and (batch.tokens[:, 0] != 0).all()
    h = torch.randn(len(batch.graph), 3)
    assert torch.allclose(sum_pool(h, batch.graph, 5)[2], h[batch.graph == 2].sum(0))
    assert torch.allclose(mean_pool(h, batch.graph, 5)[2], h[batch.graph == 2].mean(0))


def _all(data):
    return [data.splits[s][i] for s in ("train", "val", "test") for i in range(len(data.splits[s]))]


@pytest.mark.parametrize("build", [build_gin, build_smiles_cnn, build_fingerprint_mlp])
def test_encoder_embedding_ignores_batch_mates(data, build):
    torch.manual_seed(0)
    encoder = build(data.input_spec, 16)
    items = _all(data)
    encoder.train()
    with torch.no_grad():  # a few training-mode passes so batch-norm running stats are not trivial
        for _ in range(3):
            encoder(collate(items)[0])
    encoder.eval()
    with torch.no_grad():
        together = encoder(collate(items)[0])
        alone = torch.cat([encoder(collate([it])[0]) for it in items])
        shuffled = list(reversed(items))
        reordered = encoder(collate(shuffled)[0]).flip(0)
    assert together.shape == (len(items), 16)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(together, reordered, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("build", [build_graph_bank, build_token_bank, build_fingerprint_bank,
                                   build_composition_fingerprint_bank])
def test_bank_outputs_ignore_batch_mates(data, build):
    torch.manual_seed(0)
    bank = build(data.input_spec, 4, 8).eval()
    items = _all(data)
    with torch.no_grad():
        together = bank(collate(items)[0])
        alone = torch.cat([bank(collate([it])[0]) for it in items], dim=1)
    assert together.shape == (4, len(items), 8)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_composition_bank_sees_the_atom_counts_at_the_fingerprints_weight(data):
    """Its input is the fingerprint joined with sqrt(F / A) * log1p(atom-feature sums): equal to
    the plain MLP bank on that joined tensor, and it changes when only the atoms change."""
    from core.projectors import MLPBank

    torch.manual_seed(0)
    bank = build_composition_fingerprint_bank(data.input_spec, 4, 8).eval()
    batch = collate(_all(data))[0]
    fp_size, atom_dim = bank.fp_size, bank.atom_dim
    assert (fp_size, atom_dim) == (batch.fp.shape[1], batch.atoms.shape[1])
    counts = torch.zeros(batch.num_graphs, atom_dim).index_add_(0, batch.graph, batch.atoms)
    joined = torch.cat([batch.fp, (fp_size / atom_dim) ** 0.5 * torch.log1p(counts)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(bank(batch), MLPBank.forward(bank, joined))
        batch.atoms = batch.atoms.clone()
        batch.atoms[batch.graph == 0] *= 2  # the first molecule's counts change, its fingerprint does not
        moved = bank(batch)
    assert not torch.allclose(moved[:, 0], bank(collate(_all(data))[0])[:, 0])
    torch.testing.assert_close(moved[:, 1:], MLPBank.forward(bank, joined)[:, 1:])


def test_padding_would_leak_without_masking(data):
    """The check above can fail: an unmasked 2-layer CNN over padded tokens changes with batch mates."""

    class Leaky(torch.nn.Module):  # no re-masking between convolutions
        def __init__(self, vocab):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab, 8, padding_idx=0)
            self.convs = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 5, padding=2), torch.nn.ReLU(),
                                             torch.nn.Conv1d(8, 8, 5, padding=2))

        def forward(self, ids):
            mask = (ids != 0).unsqueeze(1).float()
            h = self.convs(self.embed(ids).transpose(1, 2)) * mask
            return h.sum(-1) / mask.sum(-1)

    torch.manual_seed(0)
    leaky = Leaky(data.input_spec.vocab_size).eval()
    items = _all(data)
    with torch.no_grad():
        together = leaky(collate(items)[0].tokens)
        alone = torch.cat([leaky(collate([it])[0].tokens) for it in items])
    assert not torch.allclose(together, alone, atol=1e-5)
