"""ECG augmentations registered through core_augmentations (for the SimCLR/SimSiam baselines)."""
import pytest
import torch

from core.specs import AugmentationSpec, InputSpec
from core_ecg import augment, plugin

SPEC = InputSpec("sequence", (2, 60))


def test_core_augmentations_hook_registers_crop_scaling_jitter_in_order():
    specs = plugin.core_augmentations()
    assert all(isinstance(s, AugmentationSpec) for s in specs)
    assert [s.name for s in specs] == ["ecg/crop", "ecg/scaling", "ecg/jitter"]
    x = torch.randn(4, 2, 60)
    for s in specs:
        assert s.modalities == ("sequence",)
        out = s.build(SPEC)(x)
        assert out.shape == x.shape and out.dtype == x.dtype and not torch.equal(out, x)
    with pytest.raises(ValueError, match="channels, length"):
        specs[0].build(InputSpec("vector", (5,)))


def test_random_resized_crop_resamples_a_window_of_each_beat():
    ramp = torch.linspace(0, 1, 100).repeat(3, 1, 1)  # (3, 1, 100) increasing ramps
    torch.manual_seed(0)
    out = augment.random_resized_crop(ramp, 0.6, 1.0)
    assert out.shape == ramp.shape
    span = out[:, 0, -1] - out[:, 0, 0]
    assert torch.all(span >= 0.6 - 1e-5) and torch.all(span <= 1 + 1e-5)
    assert torch.all(out.diff(dim=-1) >= -1e-6)  # still increasing: a window, stretched
    assert torch.allclose(augment.random_resized_crop(ramp, 1.0, 1.0), ramp, atol=1e-5)


def test_scaling_is_per_sample_and_lead_and_jitter_adds_noise_of_the_given_std():
    torch.manual_seed(0)
    x = torch.ones(500, 2, 60)
    scaled = augment.scaling(x, 0.2)
    assert torch.allclose(scaled, scaled[..., :1].expand_as(scaled))  # one factor per (sample, lead)
    assert abs(float(scaled[..., 0].std()) - 0.2) < 0.03
    noise = augment.jitter(torch.zeros(200, 2, 60), 0.1)
    assert abs(float(noise.std()) - 0.1) < 0.01
    torch.manual_seed(3)
    a = augment.jitter(x)
    torch.manual_seed(3)
    assert torch.equal(a, augment.jitter(x))  # seeded by the run
