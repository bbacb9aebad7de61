"""LFR at large D: the predictor step's in-place gradients, the bf16 path, fused Adam, checkpoint
intervals and an exact resume (benchmarks/lfr_step.py measures the speed; nothing here times)."""
import copy
import json

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from core.config import RunConfig
from core.data import ArrayDataset
from core.objectives.lfr import LFR, LFRConfig, StackedPredictors
from core.objectives.predictor_step import PredictorStep
from core.objectives.target_loss import TargetLoss
from core.projectors import MLPBank, build_bank

N, F_IN, DIM, K, D_OUT = 40, 10, 12, 3, 5


def _data(seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, F_IN, generator=g, dtype=dtype)
    x[:, :3] += 2 * x[:, 3:6]
    return x


def _lfr(dtype=torch.float32, **cfg):
    cfg = LFRConfig(**{"k": K, "candidates_per_slot": 2, "proj_dim": D_OUT, **cfg})
    bank = build_bank(lambda n: MLPBank(F_IN, n, cfg.proj_dim, hidden=16), cfg.k,
                      candidates_per_slot=cfg.candidates_per_slot, sample=_data(9)[:20], seed=cfg.seed)
    torch.manual_seed(1)
    lfr = LFR(bank, cfg, DIM).to(dtype)
    lfr.prepare(None, DataLoader(ArrayDataset(_data(dtype=dtype).numpy()), batch_size=16), "cpu")
    return lfr


@pytest.mark.parametrize("layers", [1, 2])
def test_predictor_step_gradients_equal_autograd(layers):
    torch.manual_seed(0)
    heads = StackedPredictors(K, DIM, D_OUT, layers=layers, hidden=7).double().train()
    ref = copy.deepcopy(heads)
    z, target = torch.randn(9, DIM, dtype=torch.float64), torch.randn(K, 9, D_OUT, dtype=torch.float64)
    loss_fn = TargetLoss("barlow", 0.02)
    for _ in range(2):  # the second call overwrites the gradient buffers allocated by the first
        loss = PredictorStep(heads, loss_fn)(z, target)
        ref.zero_grad(set_to_none=True)
        ref_loss = loss_fn(ref(z), target)
        ref_loss.backward()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
        for (name, p), q in zip(heads.named_parameters(), ref.parameters()):
            torch.testing.assert_close(p.grad, q.grad, atol=1e-12, rtol=1e-10, msg=name)
    for a, b in zip(heads.buffers(), ref.buffers()):  # BatchNorm statistics move the same way
        torch.testing.assert_close(a, b)


def test_first_layer_is_one_gemm_on_a_view_and_bf16_copies_are_cached():
    heads = StackedPredictors(K, DIM, D_OUT)
    assert heads.weight0.flatten(0, 1).data_ptr() == heads.weight0.data_ptr()  # no copy per step
    low = heads.weight_copy(torch.bfloat16)
    assert low.dtype == torch.bfloat16 and low.shape == (K * D_OUT, DIM)
    assert heads.weight_copy(torch.bfloat16) is low  # unchanged weights: no refill
    before = low.clone()
    opt = torch.optim.SGD(heads.parameters(), lr=1.0)
    heads.weight0.grad, heads.bias0.grad = torch.ones_like(heads.weight0), torch.zeros_like(heads.bias0)
    opt.step()
    again = heads.weight_copy(torch.bfloat16)
    assert again is low and not torch.equal(again, before)  # refilled in place after an update
    torch.testing.assert_close(again.float(), heads.weight0.detach().flatten(0, 1), atol=1e-2, rtol=1e-2)
    assert "_copies" not in str(list(heads.state_dict()))


def test_bf16_predictor_path_is_close_to_float32():
    x = _data()
    index = torch.arange(N)
    emb = nn.Linear(F_IN, DIM)(x).detach()
    runs = {}
    for precision in ("32", "bf16"):
        lfr = _lfr(pred_precision=precision, pred_epochs=3)
        enc_loss = lfr.encoder_loss(emb.clone().requires_grad_(), None, index)
        opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-2, fused=True)
        inner = lfr.inner_phase(emb, index, opt, batch_size=16, generator=torch.Generator().manual_seed(3))
        assert lfr.predictors.weight0.dtype == torch.float32 and lfr.predictors.weight0.grad is None
        runs[precision] = (enc_loss.item(), inner, lfr.encoder_loss(emb, None, index).item())
    assert runs["bf16"] == pytest.approx(runs["32"], rel=2e-2)
    assert runs["32"][2] < runs["32"][0]  # both phases trained
    z = emb.clone().requires_grad_()
    _lfr(pred_precision="bf16").encoder_loss(z, None, index).backward()
    assert z.grad.dtype == torch.float32 and torch.isfinite(z.grad).all()


def _compiles_here() -> bool:
    """Whether torch.compile's CPU backend can run here: it needs a C++ compiler."""
    import shutil

    return any(shutil.which(cc) for cc in ("cc", "gcc", "c++", "g++"))


def test_fused_bf16_adam_matches_the_unfused_step(monkeypatch):
    """MirrorAdam (weight0's Adam and its bf16 copy in one compiled pass) ends where torch's Adam
    on the cast gradient does, and leaves an ordinary Adam state (checkpoints, resume)."""
    from core.objectives import mirror_adam

    monkeypatch.setattr(mirror_adam, "MIN_ELEMENTS", 0)  # the test heads are tiny
    emb = nn.Linear(F_IN, DIM)(_data()).detach()
    index = torch.arange(N)
    ends = {}
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(mirror_adam.MirrorAdam, "create", classmethod(lambda cls, *a: None))
        lfr = _lfr(pred_precision="bf16", pred_epochs=3)
        opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-2, weight_decay=1e-3, fused=True)
        loss = lfr.inner_phase(emb, index, opt, batch_size=16, generator=torch.Generator().manual_seed(3))
        state = opt.state[lfr.predictors.weight0]
        ends[fused] = (loss, lfr.predictors.weight0.detach().clone(), state["exp_avg_sq"].clone(), float(state["step"]),
                       lfr.predictors.weight_copy(torch.bfloat16).clone(), opt.state_dict())
    (loss_f, w_f, v_f, step_f, copy_f, sd_f), (loss_u, w_u, v_u, step_u, _, sd_u) = ends[True], ends[False]
    if _compiles_here():
        assert mirror_adam._compiled.get("cpu") is not None  # the fused kernel ran
    assert step_f == step_u == 9 and loss_f == pytest.approx(loss_u, rel=1e-3)
    assert torch.allclose(w_f, w_u, atol=1e-4) and torch.allclose(v_f, v_u, rtol=1e-3, atol=1e-9)
    assert torch.equal(copy_f, w_f.flatten(0, 1).to(torch.bfloat16))  # the copy the next GEMM uses is current
    assert [sorted(s) for s in sd_f["state"].values()] == [sorted(s) for s in sd_u["state"].values()]


def test_predictor_phases_reuse_one_weight_gradient_buffer():
    """The weight-sized gradient buffer survives the phase (no page faults of a fresh one next
    phase) while the parameters' ``.grad`` is dropped."""
    emb = nn.Linear(F_IN, DIM)(_data()).detach()
    lfr = _lfr(pred_epochs=1)
    opt = torch.optim.Adam(lfr.inner_parameters(), lr=1e-2)
    ptrs = []
    for _ in range(2):
        lfr.inner_phase(emb, torch.arange(N), opt, batch_size=16, generator=torch.Generator().manual_seed(3))
        assert lfr.predictors.weight0.grad is None
        buf = lfr._grad_buffers[torch.float32]
        assert buf.shape == lfr.predictors.weight0.shape
        ptrs.append(buf.data_ptr())
    assert ptrs[0] == ptrs[1]


@pytest.mark.parametrize("loss", ["barlow", "cosine"])
def test_large_cpu_losses_run_compiled_and_equal_the_eager_terms(monkeypatch, loss):
    from core.objectives import target_loss

    monkeypatch.setattr(target_loss, "COMPILE_MIN_ELEMENTS", 0)  # the test tensors are tiny
    monkeypatch.setattr(target_loss, "_COMPILED", {})
    torch.manual_seed(0)
    pred, target = torch.randn(K, 9, D_OUT, requires_grad=True), torch.randn(K, 9, D_OUT)
    auto, eager = TargetLoss(loss, 0.02), TargetLoss(loss, 0.02, impl="torch")
    assert auto.compiles(pred) and not eager.compiles(pred)
    (g_auto,), (g_eager,) = (torch.autograd.grad(fn(pred, target), pred) for fn in (auto, eager))
    if _compiles_here():  # without a compiler: the eager path, checked below
        assert target_loss._COMPILED["fn"] is not None
    torch.testing.assert_close(auto(pred, target), eager(pred, target), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_auto, g_eager, rtol=1e-5, atol=1e-7)
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False):  # torch.compile refuses dispatch modes: eager here
        assert not auto.compiles(pred)
        torch.testing.assert_close(auto(pred, target), eager(pred, target), rtol=1e-5, atol=1e-6)
    assert auto.compiles(pred)  # and compiled again after it


def test_a_loss_that_cannot_compile_runs_eagerly_from_then_on(monkeypatch, caplog):
    from core.objectives import target_loss

    monkeypatch.setattr(target_loss, "COMPILE_MIN_ELEMENTS", 0)
    monkeypatch.setattr(target_loss, "_COMPILED", {})
    calls = []

    def broken(*args):
        calls.append(1)
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(target_loss.torch, "compile", lambda fn, **kw: broken)
    pred, target = torch.randn(K, 9, D_OUT), torch.randn(K, 9, D_OUT)
    loss = TargetLoss("barlow", 0.02)
    with caplog.at_level("INFO"):
        first, second = loss(pred, target), loss(pred, target)
    expected = TargetLoss("barlow", 0.02, impl="torch")(pred, target)
    assert first == pytest.approx(expected.item()) and second == pytest.approx(expected.item())
    assert len(calls) == 1 and not loss.compiles(pred)
    assert "compiled LFR loss unavailable" in caplog.text


def test_pred_precision_setting():
    assert LFRConfig().pred_precision == "32"
    assert LFRConfig.from_params({"pred_precision": 32}).pred_precision == "32"
    with pytest.raises(ValueError, match="pred_precision"):
        LFRConfig(pred_precision="fp8")


def test_adam_is_fused_where_torch_has_the_kernel():
    from core.training import adam

    p = [nn.Parameter(torch.randn(3))]
    assert adam(p, RunConfig()).defaults["fused"] is True
    assert not adam(p, RunConfig(strategy="fsdp")).defaults["fused"]


# --------------------------------------------------------------- checkpoints and resume
def _fit(tmp_path, epochs, resume=False, crash_after=None, crash_at_step=None, seen=None, **settings):
    """Train a tiny LFR run in ``tmp_path`` through core.training.fit; ``crash_after``: raise at
    the end of that epoch (after any checkpoint of that epoch); ``crash_at_step``: raise after
    that encoder step (after any checkpoint of that step); ``seen``: a list that gets the pool
    positions of every training batch."""
    import lightning as L

    from core.training import PretextModule, fit

    cfg = RunConfig(**{"epochs": epochs, "batch_size": 16, "lr": 1e-2, "dim": DIM, "accelerator": "cpu",
                       "progress": False, "seed": 0, **settings})
    L.seed_everything(0, verbose=False)
    pool = ArrayDataset(_data().numpy())
    encoder = nn.Sequential(nn.Linear(F_IN, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, DIM))
    module = PretextModule(encoder, _lfr(pred_epochs=2), pool, cfg)
    writes = []
    save = module._save_atomically

    def counted(path):
        writes.append(int(module.current_epoch))
        save(path)

    module._save_atomically = counted
    if crash_after is not None:
        end = module.on_train_epoch_end

        def crash():
            end()
            if module.current_epoch == crash_after:
                raise KeyboardInterrupt  # a kill: Lightning stops, nothing after this epoch is written

        module.on_train_epoch_end = crash
    if crash_at_step is not None:
        batch_end = module.on_train_batch_end

        def crash_in_epoch(*args):
            batch_end(*args)
            if module.global_step == crash_at_step:
                raise KeyboardInterrupt

        module.on_train_batch_end = crash_in_epoch
    if seen is not None:
        step = module.training_step

        def recorded(batch, batch_idx):
            seen.append(batch[2].tolist())
            return step(batch, batch_idx)

        module.training_step = recorded
    try:
        fit(module, cfg, tmp_path, resume=resume)
    except (KeyboardInterrupt, SystemExit):
        pass
    return module, writes


def test_checkpoint_interval_and_always_at_the_end(tmp_path):
    _, writes = _fit(tmp_path / "a", 5, checkpoint_minutes=60.0)
    assert writes == [4]  # only after the last epoch
    _, writes = _fit(tmp_path / "b", 5, checkpoint_minutes=60.0, checkpoint_epochs=2)
    assert writes == [1, 3, 4]
    _, writes = _fit(tmp_path / "c", 3, checkpoint_minutes=0)
    assert writes == [0, 1, 2]


def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path):
    whole, _ = _fit(tmp_path / "whole", 5, checkpoint_minutes=60.0, checkpoint_epochs=2)
    _, writes = _fit(tmp_path / "cut", 5, crash_after=2, checkpoint_minutes=60.0, checkpoint_epochs=2)
    assert writes == [1]  # the crash in epoch 2 loses only that epoch (< the interval)
    assert (tmp_path / "cut" / "last.ckpt").exists()
    resumed, _ = _fit(tmp_path / "cut", 5, resume=True, checkpoint_minutes=60.0, checkpoint_epochs=2)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2, 3, 4]
    assert json.dumps(resumed.history) == json.dumps(whole.history)  # same losses, epoch by epoch
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_mid_epoch_reads_the_unread_positions_and_ends_equal(tmp_path):
    """A checkpoint written mid-epoch (checkpoint_steps) holds the loader's position: the resumed
    run reads exactly the batches the killed run had not, and ends where the uninterrupted one does."""
    settings = dict(batch_size=8, checkpoint_minutes=None, checkpoint_steps=3)  # 5 steps per epoch
    whole_seen, cut_seen, resumed_seen = [], [], []
    whole, _ = _fit(tmp_path / "whole", 3, seen=whole_seen, **settings)
    assert len(whole_seen) == 15 and sorted(sum(whole_seen[:5], [])) == list(range(N))  # each position once
    _, writes = _fit(tmp_path / "cut", 3, crash_at_step=8, seen=cut_seen, **settings)
    assert writes == [0, 1] and len(cut_seen) == 8  # written after steps 3 (epoch 0) and 6 (epoch 1), killed after 8
    resumed, _ = _fit(tmp_path / "cut", 3, resume=True, seen=resumed_seen, **settings)
    assert cut_seen[:6] + resumed_seen == whole_seen  # steps 7 and 8 are read again, nothing else
    assert json.dumps(resumed.history) == json.dumps(whole.history)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_checkpoint_written_in_the_background_reports_its_failure(tmp_path):
    """The background write's error reaches the caller as the one-line cannot-write error, and no
    temporary file is left."""
    from core.errors import UserError

    (tmp_path / "last.ckpt").mkdir()  # a folder where the checkpoint file goes
    with pytest.raises(UserError, match="last.ckpt: cannot write"):
        _fit(tmp_path, 2, checkpoint_minutes=0)
    assert not list(tmp_path.glob(".last.ckpt.tmp"))
