"""Projector banks: one module with a leading K axis, deterministic for a seed, frozen."""
import torch

from core.projectors import bank_hash, build_bank, select_networks
from core.specs import InputSpec
from core_speech.batches import SpeechBatch
from core_speech.projectors import build_logmel_bank, build_wave_bank

SPEC = InputSpec("audio", (12, 51), sample_rate=8000.0)


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(5, 12, 30, generator=g)
    wave = torch.randn(5, 2400, generator=g)
    frames, samples = torch.tensor([30, 22, 9, 30, 15]), torch.tensor([2400, 1700, 700, 2400, 1200])
    for i in range(5):
        feats[i, :, frames[i]:] = 0
        wave[i, samples[i]:] = 0
    return SpeechBatch(feats, frames, wave, samples)


def test_banks_are_deterministic_for_a_seed_and_differ_across_seeds():
    batch = _batch()
    for factory in (build_logmel_bank, build_wave_bank):
        make = lambda n: factory(SPEC, n, 8)  # noqa: E731
        a, b, c = (build_bank(make, 3, candidates_per_slot=4, sample=batch, seed=s) for s in (7, 7, 8))
        assert bank_hash(a) == bank_hash(b) != bank_hash(c)
        assert all(p.shape[0] == 3 and not p.requires_grad for p in a.parameters())
        with torch.no_grad():
            out = a(batch)
        assert out.shape == (3, 5, 8) and torch.isfinite(out).all()
        assert torch.equal(out, b(batch))


def test_one_module_equals_each_network_alone():
    """The grouped evaluation of K networks equals evaluating each selected network by itself."""
    batch = _batch(1)
    for factory in (build_logmel_bank, build_wave_bank):
        torch.manual_seed(0)
        bank = factory(SPEC, 4, 6).eval()
        with torch.no_grad():
            together = bank(batch)
            for k in range(4):
                torch.testing.assert_close(select_networks(bank, [k])(batch)[0], together[k], atol=1e-5, rtol=1e-4)
