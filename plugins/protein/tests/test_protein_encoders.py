"""Padding-mask exactness of every encoder and bank; banks frozen and deterministic for a seed."""
from __future__ import annotations

import pytest
import torch

from core.projectors import TokenConvBank, bank_hash, build_bank
from core.specs import InputSpec
from core_protein import alphabet, plugin
from core_protein.batches import ProteinBatch, pad_tokens
from core_protein.encoders import DilatedResNet, contact_map, masked_pool
from core_protein.packing import pack
from core_protein.synthetic import helix_trace

SPEC = InputSpec("tokens", (1024,), dtype="int64", vocab_size=alphabet.VOCAB_SIZE)
ENCODERS = {s.name: s for s in plugin.core_encoders()}
BANKS = {s.name: s for s in plugin.core_projectors()}
SHORT = "GLWSKIKEVGKEAAKAAAKAAGKAALG"
LONG = "MNINELLKDKDLKVTKYRKLILENLKSCDNPISAEELFDKLKKDYDMDLSTIYRNLNILEEKGVLLKTTNLDGISYYQLNDSHHKHFITCNICHKKLTIEN" * 3


def _ids(*seqs):
    return pad_tokens([alphabet.encode(s) for s in seqs])


def _structure(*seqs):
    ids = _ids(*seqs)
    coords = torch.full((*ids.shape, 3), float("nan"))
    for i, s in enumerate(seqs):
        coords[i, : len(s)] = torch.from_numpy(helix_trace(len(s))).float()
    return ProteinBatch(ids, coords)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_embedding_does_not_depend_on_batch_padding(name):
    torch.manual_seed(0)
    enc = ENCODERS[name].build(SPEC, 32).eval()
    make = _structure if name == "protein/contact" else _ids
    with torch.no_grad():
        alone = enc(make(SHORT))[0]
        with_long = enc(make(SHORT, LONG, "ACD"))
        padded_further = enc(make(LONG, "KK", SHORT))
    assert with_long.shape == (3, 32)
    torch.testing.assert_close(with_long[0], alone, rtol=0, atol=1e-5)
    torch.testing.assert_close(padded_further[2], alone, rtol=0, atol=1e-5)
    assert not torch.allclose(with_long[1], alone, atol=1e-3)  # a different protein, a different embedding


def test_the_check_can_fail_an_unmasked_cnn_depends_on_padding():
    torch.manual_seed(0)
    emb, conv = torch.nn.Embedding(alphabet.VOCAB_SIZE, 8, padding_idx=0), torch.nn.Conv1d(8, 8, 5, padding=2)
    naive = lambda ids: torch.relu(conv(emb(ids).transpose(1, 2))).mean(-1)  # noqa: E731  (pads in the mean)
    with torch.no_grad():
        assert not torch.allclose(naive(_ids(SHORT))[0], naive(_ids(SHORT, LONG))[0], atol=1e-3)


def test_packed_cnn_equals_the_padded_computation():
    torch.manual_seed(1)
    enc = DilatedResNet(alphabet.VOCAB_SIZE, 16).eval()
    ids = _ids(SHORT, LONG, "ACDEFGHIK", "W")
    with torch.no_grad():
        h, mask = enc.residues(ids)
        torch.testing.assert_close(enc(ids), enc.head(masked_pool(h, mask)), rtol=0, atol=1e-5)
    p = pack(ids, 3)
    assert len(p.ids) == len(SHORT) + len(LONG) + 9 + 1 + 5 * 3 and p.ids[:3].eq(0).all()
    assert alphabet.decode(p.ids[p.segment == 2]) == "ACDEFGHIK"


def test_contacts_follow_the_ca_trace_and_ignore_missing_atoms():
    batch = _structure("ACDEFGHIKL", "MK")
    adj = contact_map(batch.coords)
    assert adj.shape == (2, 10, 10) and adj[0, 0, 1] == 1 and adj[0, 0, 9] == 0 and adj[0].diagonal().eq(0).all()
    assert adj[1, :, 2:].eq(0).all()  # padding has no contacts
    batch.coords[0, 3] = float("nan")  # a residue without Cα
    assert contact_map(batch.coords)[0, 3].eq(0).all()


@pytest.mark.parametrize("name", sorted(BANKS))
def test_banks_frozen_deterministic_for_a_seed_and_padding_exact(name):
    sample = _ids(SHORT, LONG, "ACDEFGHIKLMN", "KWKLFKKIEKVGQNIRDGIIKAGPAVAVVGQATQIAK", "MKV" * 9, "FLPLLAGLAANFLPKIFCKITRKC")
    make = lambda n: BANKS[name].build(SPEC, n, 8)  # noqa: E731
    bank = build_bank(make, 3, candidates_per_slot=4, sample=sample, seed=7)
    assert bank.k == 3 and all(not p.requires_grad and p.shape[0] == 3 for p in bank.parameters())
    out = bank(sample)
    assert out.shape == (3, 6, 8) and torch.isfinite(out).all() and not out.requires_grad
    again = build_bank(make, 3, candidates_per_slot=4, sample=sample, seed=7)
    assert bank_hash(again) == bank_hash(bank)
    torch.testing.assert_close(again(sample), out, rtol=0, atol=0)
    assert bank_hash(build_bank(make, 3, candidates_per_slot=4, sample=sample, seed=8)) != bank_hash(bank)
    assert not torch.allclose(out[0], out[1])
    torch.testing.assert_close(bank(_ids(SHORT))[:, 0], out[:, 0], rtol=0, atol=1e-5)


def test_residue_conv_bank_equals_core_token_conv_bank():
    torch.manual_seed(3)
    bank = BANKS["protein/residue_conv"].build(SPEC, 4, 8)
    ids = _ids(SHORT, LONG, "ACD")
    with torch.no_grad():
        torch.testing.assert_close(bank(ids), TokenConvBank.forward(bank, ids), rtol=0, atol=1e-5)
