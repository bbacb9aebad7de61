"""core.host_memory: the lower bound of a CPU run's training state against the host's memory."""
import pytest
import torch

from core import host_memory
from core.errors import UserError


def test_available_memory_is_meminfo_lowered_to_a_cgroup_limit(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  8000000 kB\nMemFree:  1000 kB\nMemAvailable:    4000000 kB\n")
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    assert host_memory.available_bytes(meminfo, cgroups=((limit, usage),)) == 4000000 * 1024  # no cgroup files
    limit.write_text("max\n")
    usage.write_text("123\n")
    assert host_memory.available_bytes(meminfo, cgroups=((limit, usage),)) == 4000000 * 1024  # unlimited
    limit.write_text(f"{3 * 2 ** 30}\n")
    usage.write_text(f"{2 ** 30}\n")
    assert host_memory.available_bytes(meminfo, cgroups=((limit, usage),)) == 2 * 2 ** 30
    assert host_memory.available_bytes(tmp_path / "missing", cgroups=()) is None


def test_each_trainable_weight_still_needs_six_more_copies_and_shared_ones_count_once():
    layer = torch.nn.Linear(10, 20)  # 220 float32 weights
    assert host_memory.bytes_still_needed(layer.parameters()) == 6 * 4 * 220
    assert host_memory.bytes_still_needed([layer.weight, layer.weight, layer.bias]) == 6 * 4 * 220
    assert host_memory.bytes_still_needed([layer.weight.detach().to(torch.bfloat16)]) == 6 * 2 * 200


def test_a_state_that_cannot_fit_is_refused_with_its_numbers_and_the_fix(monkeypatch):
    heads = [torch.nn.Parameter(torch.zeros(6, 128, 128))]  # 98,304 weights: 2.25 MiB still needed
    encoder = list(torch.nn.Linear(4, 4).parameters())
    parts = {"encoder": encoder, "LFR objective": heads}
    need = host_memory.bytes_still_needed(heads) + host_memory.bytes_still_needed(encoder)
    host_memory.check_fits(parts, available=need)  # exactly enough: no error
    with pytest.raises(UserError) as e:
        host_memory.check_fits(parts, available=need - 1)
    assert "the LFR objective's weights alone" in str(e.value) and "--dim" in str(e.value)
    assert len(str(e.value).splitlines()) == 1
    monkeypatch.setattr(host_memory, "available_bytes", lambda: None)
    host_memory.check_fits(parts)  # memory unknown (not Linux): no check
