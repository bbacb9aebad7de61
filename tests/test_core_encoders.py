"""Generic encoders: output shapes, and padding never changes a token sequence's embedding."""
import torch

from core.encoders import build_conv, build_mlp, build_tokens
from core.specs import InputSpec


def test_shapes():
    assert build_mlp(InputSpec("vector", (7,)), 5)(torch.randn(4, 7)).shape == (4, 5)
    assert build_conv(InputSpec("sequence", (2, 40)), 6)(torch.randn(3, 2, 40)).shape == (3, 6)
    assert build_conv(InputSpec("image", (3, 16, 16)), 6)(torch.randn(3, 3, 16, 16)).shape == (3, 6)


def test_token_encoder_ignores_padding():
    torch.manual_seed(0)
    enc = build_tokens(InputSpec("tokens", (12,), vocab_size=20), 8).eval()
    seq = torch.randint(1, 20, (1, 7))
    short = torch.cat([seq, torch.zeros(1, 5, dtype=torch.long)], 1)
    long = torch.cat([seq, torch.zeros(1, 30, dtype=torch.long)], 1)
    torch.testing.assert_close(enc(short), enc(long), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(enc(seq), enc(short), rtol=1e-5, atol=1e-6)  # no padding at all
