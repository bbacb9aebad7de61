"""Fused Triton LFR loss (issue 8): interpreter checks on CPU, dispatch, CLI flag, benchmark exit.

The numerical checks run ``tests/kernel_checks.py`` once in a subprocess with
``TRITON_INTERPRET=1``: the variable has to be set before triton defines the kernels, and
another test module may already have imported triton in this process. Each check is then one
test here (value and gradient against the float64 torch reference; float32 ≤ 1e-4 relative,
bfloat16 ≤ 1e-2). On a CUDA machine ``benchmarks/gpu_check.sh`` runs the same checks natively.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.objectives.lfr import LFRConfig, build_lfr
from core.objectives.target_loss import TargetLoss
from core.projectors import MLPBank
from core.specs import InputSpec

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("kernel_checks", REPO / "tests" / "kernel_checks.py")
kernel_checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kernel_checks)

HAS_TRITON = importlib.util.find_spec("triton") is not None
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")


@pytest.fixture(scope="module")
def interpreter_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("kernels") / "results.json"
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(REPO)}
    env.pop("CORE_TRITON_AUTOTUNE", None)
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "kernel_checks.py"), "--device", "cpu",
                           "--json", str(out)], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    if not out.exists():
        pytest.fail(f"kernel checks crashed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(out.read_text())
    assert data["interpret"] is True
    return {r["name"]: r for r in data["results"]}, proc.stdout


@needs_triton
@pytest.mark.parametrize("name", kernel_checks.case_names())
def test_kernel_matches_float64_reference_under_interpreter(interpreter_results, name):
    results, log = interpreter_results
    assert name in results, f"check {name} did not run:\n{log[-2000:]}"
    r = results[name]
    assert r["ok"], f"{name} (seed {r['seed']}): {r}"


# -------------------------------------------------------------------- dispatch (no kernels)
def test_loss_impl_and_pred_compile_are_validated():
    assert LFRConfig().loss_impl == "auto" and LFRConfig().pred_compile == "off"
    for bad in (dict(loss_impl="cuda"), dict(pred_compile="fast"), dict(loss_impl="triton", loss="cosine")):
        with pytest.raises(ValueError, match="loss_impl|pred_compile"):
            LFRConfig(**bad)
    assert LFRConfig.from_params({"loss_impl": "torch"}).loss_impl == "torch"
    assert LFRConfig(loss="cosine", loss_impl="auto").loss_impl == "auto"


def _lfr(**cfg):
    spec, x = InputSpec("vector", (10,)), torch.randn(32, 10, generator=torch.Generator().manual_seed(0))
    lfr = build_lfr(spec, 6, {"k": 2, "candidates_per_slot": 2, **cfg}, lambda n, d: MLPBank(10, n, d, hidden=8), x)
    lfr.targets = lfr.bank(x).transpose(0, 1).contiguous()
    return lfr


def test_auto_uses_torch_on_cpu_and_float64():
    lfr = _lfr()
    assert not lfr.target_loss.uses_triton(torch.zeros(2, 3, 4))
    assert not lfr.target_loss.uses_triton(torch.zeros(2, 3, 4, dtype=torch.float64))
    assert not _lfr(loss_impl="torch").target_loss.uses_triton(torch.zeros(2, 3, 4))
    z = torch.randn(8, 6, requires_grad=True)
    lfr.encoder_loss(z, None, torch.arange(8)).backward()  # the torch path, no triton involved
    assert z.grad is not None


@needs_triton
def test_triton_on_cpu_without_interpreter_is_a_clear_error():
    from core.objectives import kernels

    if kernels.INTERPRET:
        pytest.skip("this process runs triton's interpreter")  # ok: runs on CPU CI (interpreter only in subprocesses)
    lfr = _lfr(loss_impl="triton")
    with pytest.raises(ValueError, match="needs CUDA tensors.*TRITON_INTERPRET"):
        lfr.encoder_loss(torch.randn(8, 6), None, torch.arange(8))
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="float64"):
            kernels.check_supported(torch.zeros(2, dtype=torch.float64, device="cuda"))


def test_auto_falls_back_to_torch_once_when_the_kernel_fails(monkeypatch, caplog):
    z = torch.randn(8, 6)
    torch.manual_seed(0)
    ref = _lfr(loss_impl="torch").encoder_loss(z, None, torch.arange(8))
    torch.manual_seed(0)
    lfr = _lfr()
    monkeypatch.setattr(TargetLoss, "uses_triton", lambda self, pred: not self.triton_failed)
    calls = []

    def broken(self, pred, target):
        calls.append(1)
        raise RuntimeError("no ptxas")

    monkeypatch.setattr(TargetLoss, "fused", broken)
    for _ in range(2):
        torch.testing.assert_close(lfr.encoder_loss(z, None, torch.arange(8)), ref)
    assert len(calls) == 1 and "using torch" in caplog.text


def test_pred_compile_runs_heads_through_torch_compile(monkeypatch):
    seen = []

    def fake_compile(fn, **kwargs):  # records the mode; runs eagerly (no compiler on the CPU test box)
        seen.append(kwargs)
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    eager, compiled = _lfr(pred_layers=2), _lfr(pred_layers=2, pred_compile="reduce-overhead")
    compiled.predictors.load_state_dict(eager.predictors.state_dict())
    z = torch.randn(8, 6, requires_grad=True)
    for detached in (True, False):
        torch.testing.assert_close(compiled.heads(z, detached), eager.heads(z, detached))
    assert seen == [{"mode": "reduce-overhead", "dynamic": False}]  # compiled once, reused
    z2 = z.detach().requires_grad_(True)
    compiled.encoder_loss(z2, None, torch.arange(8)).backward()
    assert z2.grad is not None and all(p.grad is None for p in compiled.predictors.parameters())
    opt = torch.optim.SGD(compiled.inner_parameters(), lr=0.1)
    assert compiled.inner_phase(torch.randn(32, 6), torch.arange(32), opt, 16, torch.Generator()) > 0


# --------------------------------------------------------------------------- CLI, plugin
def test_cli_loss_impl_flag_sets_the_objective_parameter(monkeypatch):
    from core import cli, runs

    captured = {}

    class Stop(Exception):
        pass

    def fake_resolve(pm, plugin, recipe, file_values, cli_values, **kwargs):
        captured.update(cli_values)
        raise Stop

    monkeypatch.setattr(runs, "resolve_config", fake_resolve)
    args = cli.build_parser().parse_args(["run", "--plugin", "ecg", "--loss-impl", "triton", "--set", "k=4"])
    args.reader_flags = {}
    with pytest.raises(Stop):
        cli.cmd_run(args)
    assert captured["objective_params"] == {"k": 4, "loss_impl": "triton"}
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--loss-impl", "cuda"])


def test_plugin_registers_accelerated_objective_through_core_objectives():
    from core.errors import UserError
    from core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    spec = pm.get("objective", "ecg/lfr-fused")
    assert spec.name in pm.names("objective")
    if torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("the no-GPU error path needs a machine without CUDA")  # ok: runs on every CPU machine
    with pytest.raises(UserError, match="core/lfr"):
        spec.build(InputSpec("sequence", (1, 64)), 8, {"k": 2}, projector=pm.get("projector", "ecg/conv1d"),
                   sample=torch.randn(8, 1, 64), seed=0)
    lfr = spec.build(InputSpec("sequence", (1, 64)), 8, {"k": 2, "candidates_per_slot": 2, "loss_impl": "torch"},
                     projector=pm.get("projector", "ecg/conv1d"), sample=torch.randn(8, 1, 64), seed=0)
    assert lfr.config.loss_impl == "torch"  # the user's --set still wins


def test_loss_benchmark_exits_cleanly_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the benchmark would run")  # ok: runs on every CPU machine
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "loss_kernel.py")], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert "CUDA" in proc.stdout
