"""Padding exactness: a clip's embedding / targets do not depend on its batch mates."""
import pytest
import torch

from core_speech.batches import SpeechBatch
from core_speech.encoders import ConformerEncoder, ResNetEncoder
from core_speech.masks import MaskedBatchNorm, frame_mask
from core_speech.projectors import MaskedConvBank


def _clips(lengths, n_feat=12, hop=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n_feat, t, generator=g), torch.randn((t - 1) * hop + 40, generator=g)) for t in lengths]


def _batch(clips):
    t = max(f.shape[1] for f, _ in clips)
    l = max(len(w) for _, w in clips)
    feats = torch.zeros(len(clips), clips[0][0].shape[0], t)
    wave = torch.zeros(len(clips), l)
    for i, (f, w) in enumerate(clips):
        feats[i, :, : f.shape[1]] = f
        wave[i, : len(w)] = w
    return SpeechBatch(feats, torch.tensor([f.shape[1] for f, _ in clips]), wave,
                       torch.tensor([len(w) for _, w in clips]))


MODELS = {
    "resnet2d": lambda: ResNetEncoder(16, widths=(4, 8, 8), stem_stride=2),
    "resnet1d": lambda: ResNetEncoder(16, widths=(8, 16), nd=1, n_features=12),
    "conformer": lambda: ConformerEncoder(12, 16, d_model=16, layers=2, heads=2, ffn=32, kernel=5),
    "logmel_bank": lambda: MaskedConvBank(12, 3, 8, view="features", hidden=8, depth=3, first_kernel=5, stride=2),
    "wave_bank": lambda: MaskedConvBank(1, 3, 8, view="wave", hidden=8, depth=2, first_kernel=40, first_stride=80),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_alone_equals_padded_in_a_batch(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    if any(p.requires_grad for p in model.parameters()):  # encoders: give BN non-trivial running stats
        model.train()
        model(_batch(_clips([17, 30, 9], seed=1)))
    model.eval()
    clips = _clips([13, 41, 7, 26])  # 41 frames: the others are padded
    with torch.no_grad():
        together = model(_batch(clips))
        alone = [model(_batch([c])) for c in clips]
    dim = 1 if name.endswith("bank") else 0
    for i, a in enumerate(alone):
        got = together[:, i] if dim else together[i]
        torch.testing.assert_close(got, a[:, 0] if dim else a[0], atol=2e-5, rtol=1e-4)
    assert together.shape[dim] == 4


def test_unmasked_padding_would_change_the_embedding():
    """Sanity of the test above: feeding the padded features as if they were valid changes the output."""
    torch.manual_seed(0)
    model = ResNetEncoder(16, widths=(4, 8, 8), stem_stride=2).eval()
    clips = _clips([13, 41])
    batch = _batch(clips)
    with torch.no_grad():
        masked = model(batch)[0]
        unmasked = model(SpeechBatch.from_features(batch.features))[0]
    assert not torch.allclose(masked, unmasked, atol=1e-3)


def test_masked_batch_norm_statistics_ignore_padding():
    bn = MaskedBatchNorm(3, momentum=1.0)
    x = torch.randn(2, 3, 10)
    lengths = torch.tensor([10, 4])
    x_padded = x.clone()
    x_padded[1, :, 4:] = 1000.0  # garbage in the padding
    out = bn(x_padded, frame_mask(lengths, 10))
    valid = torch.cat([x[0], x[1, :, :4]], dim=1)
    torch.testing.assert_close(bn.running_mean, valid.mean(1))
    assert torch.all(out[1, :, 4:] == 0)
