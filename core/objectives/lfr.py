"""LFR: learning from random data projectors (Sui et al. 2023), plain torch (docs/design.md#lfr).

An encoder f gives z = f(x) ``(B, D)``; K predictor heads h_k map z to p_k = h_k(z) and are
trained to match the frozen random projections y_k = g_k(x) of the raw input. Because the
projectors are frozen and there is no augmentation, the targets y are cached once per
dataset (:meth:`LFR.prepare`). The paper's schedule alternates one encoder epoch
(predictors frozen) with ``pred_epochs`` predictor-only epochs, which here run on embeddings
computed once per outer epoch (:meth:`LFR.inner_phase`).

Loss per target (the paper's batch-wise Barlow Twins loss): with p̂_i, ŷ_i the row-normalised
i-th prediction/target and C = P̂Ŷᵀ (B×B), ℓ_k = Σᵢ(Cᵢᵢ−1)² + λ Σ_{i≠j} Cᵢⱼ²; total = mean_k ℓ_k.
The loss terms live in :mod:`core.objectives.barlow`; :mod:`core.objectives.target_loss`
runs them in torch or as the fused Triton kernel.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.objectives.barlow import FORMS, LOSSES, REDUCTIONS
from core.objectives.base import Objective, check_choice, check_int, config_from_params
from core.objectives.mirror_adam import MirrorAdam
from core.objectives.predictor_step import PredictorStep
from core.objectives.target_loss import LOSS_IMPLS, TargetLoss
from core.projectors import INIT_SCHEMES, bank_hash, build_bank

__all__ = ["StackedPredictors", "LFRConfig", "LFR", "build_lfr", "sample_size"]

SCHEDULES = ("alternating", "joint")
TARGET_CACHE = ("auto", "on", "off")
PRED_COMPILE = ("off", "default", "reduce-overhead", "max-autotune-no-cudagraphs")
PRED_PRECISIONS = {"32": None, "bf16": torch.bfloat16}  # pred_precision -> the heads' GEMM dtype
DEFAULT_PRED_HIDDEN = 256  # the released code's pred_dim for every dataset


# -------------------------------------------------------------------- predictors
class StackedPredictors(nn.Module):
    """K predictor heads evaluated together: ``z (B, D) -> (K, B, d)``.

    * ``layers=1``: K ``Linear(D, d)`` as one GEMM with ``weight0 (K, d, D)`` viewed as
      ``(K·d, D)`` (the released code's default ``nn.Linear(dim, dim)``).
    * ``layers=2``: per head ``Linear(D, H, bias=False)-BatchNorm1d(H)-ReLU-Linear(H, d)``
      (released code's 2-layer head); the first layer is one GEMM to K·H, then ONE
      ``BatchNorm1d(K·H)`` (BN is per channel, so this is exactly K separate BNs), ReLU, ``bmm``.
      ``hidden`` defaults to 256, the released code's ``pred_dim``.

    Weights are stored per head like ``nn.Linear`` (slice ``[k]``) and initialised with
    PyTorch's Linear default, U(±1/√fan_in), fan-in of one head.
    """

    def __init__(self, k: int, in_dim: int, out_dim: int, layers: int = 1, hidden: Optional[int] = None):
        super().__init__()
        if layers not in (1, 2):
            raise ValueError(f"predictor layers must be 1 or 2, got {layers}")
        self.k, self.in_dim, self.out_dim, self.layers = k, in_dim, out_dim, layers
        self.hidden = (hidden or DEFAULT_PRED_HIDDEN) if layers == 2 else None
        self._copies: dict = {}  # low-precision weight0 copies (weight_copy); not state
        self._updates = 0  # bumped by weights_updated()
        if layers == 1:
            self.weight0 = nn.Parameter(torch.empty(k, out_dim, in_dim))
            self.bias0 = nn.Parameter(torch.empty(k, out_dim))
        else:
            self.weight0 = nn.Parameter(torch.empty(k, self.hidden, in_dim))
            self.bn = nn.BatchNorm1d(k * self.hidden)
            self.weight1 = nn.Parameter(torch.empty(k, out_dim, self.hidden))
            self.bias1 = nn.Parameter(torch.empty(k, out_dim))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for w, b in ((self.weight0, getattr(self, "bias0", None)), (getattr(self, "weight1", None),
                                                                    getattr(self, "bias1", None))):
            if w is None:
                continue
            bound = 1 / math.sqrt(w.shape[-1])
            w.uniform_(-bound, bound)
            if b is not None:
                b.uniform_(-bound, bound)
        if self.layers == 2:
            self.bn.reset_parameters()

    def forward(self, z: torch.Tensor, compute_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """``(K, B, d)`` predictions; ``compute_dtype`` (e.g. bfloat16): the first-layer GEMM in that
        dtype (see :meth:`first_layer`), the rest in the weights' dtype."""
        return self.tail(self.first_layer(z, compute_dtype))

    def first_layer(self, z: torch.Tensor, compute_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """The heads' first layer as ONE GEMM: ``z (B, D) -> (B, K·H)`` (``+ bias0`` for 1-layer
        heads), in the weights' dtype. ``weight0.flatten(0, 1)`` is a view (no copy). With a
        ``compute_dtype`` other than the weights', the GEMM runs on ``z`` and the weights cast to it
        (a cached copy refreshed in place when the weights change, unless they need a gradient)
        and its result is cast back before the bias is added."""
        w = self.weight0.flatten(0, 1)
        bias = self.bias0.flatten() if self.layers == 1 else None
        if compute_dtype is None or compute_dtype == w.dtype:
            return F.linear(z, w, bias)
        low = w.to(compute_dtype) if w.requires_grad and torch.is_grad_enabled() else self.weight_copy(compute_dtype)
        h = F.linear(z.to(compute_dtype), low).to(w.dtype)
        return h if bias is None else h + bias

    def tail(self, h: torch.Tensor) -> torch.Tensor:
        """The rest of the heads after :meth:`first_layer`: ``(B, K·H) -> (K, B, d)``."""
        b = h.shape[0]
        if self.layers == 1:
            return h.view(b, self.k, self.out_dim).transpose(0, 1)
        h = torch.relu(self.bn(h)).view(b, self.k, self.hidden).transpose(0, 1)
        return torch.baddbmm(self.bias1.unsqueeze(1), h, self.weight1.transpose(1, 2))

    def tail_parameters(self) -> list:
        """Parameters that :meth:`tail` uses (1 layer: none; 2 layers: BN's, ``weight1``, ``bias1``)."""
        return [p for n, p in self.named_parameters() if n not in ("weight0", "bias0")]

    @torch.no_grad()
    def weight_copy(self, dtype: torch.dtype) -> torch.Tensor:
        """``weight0`` as ``(K·H, D)`` in ``dtype``: one buffer per dtype, refilled in place only when
        the weights changed since the last call: their storage, device or version counter, or a
        call of :meth:`weights_updated` (fused optimisers update in place without bumping the
        version counter)."""
        w = self.weight0.detach().flatten(0, 1)
        key = self._copy_key()
        cached = self._copies.get(dtype)
        if cached is not None and cached[0] == key:
            return cached[1]
        buf = cached[1] if cached is not None and cached[1].shape == w.shape and cached[1].device == w.device \
            else torch.empty(w.shape, dtype=dtype, device=w.device)
        buf.copy_(w)
        self._copies[dtype] = (key, buf)
        return buf

    def weights_updated(self) -> None:
        """Say that the weights changed in place (an optimiser step): copies are refilled when next used."""
        self._updates += 1

    def copy_refilled(self, dtype: torch.dtype) -> None:
        """Say that the ``dtype`` copy (:meth:`weight_copy`'s buffer) was refilled from the current
        weights by its writer (:class:`~core.objectives.mirror_adam.MirrorAdam`)."""
        self._copies[dtype] = (self._copy_key(), self._copies[dtype][1])

    def _copy_key(self) -> tuple:
        """What identifies the weights a copy was made from: storage, device, version, updates."""
        w = self.weight0.detach()
        return w.data_ptr(), w.device, self.weight0._version, self._updates

    def extra_repr(self) -> str:
        return f"k={self.k}, in_dim={self.in_dim}, out_dim={self.out_dim}, layers={self.layers}, hidden={self.hidden}"


# ------------------------------------------------------------------------ config
@dataclass(frozen=True)
class LFRConfig:
    """LFR hyper-parameters; defaults reproduce the released code's time-series setting.

    k: number of projectors/targets (released: 6). candidates_per_slot: r, candidates built per
    kept projector for DPP selection (released: 10 on HAR, Epilepsy, tabular).
    proj_dim: target dimension d; ``None`` = the encoder's ``dim`` (released code: targets have
    the encoder's width and predictors are ``Linear(dim, dim)``).
    pred_layers / pred_hidden: predictor heads (1 layer released default; hidden ``None`` = 256).
    lambd: off-diagonal weight λ (0.01). loss: ``barlow`` (batch-wise Barlow) or ``cosine``.
    reduction: ``sum`` (paper) or ``mean`` (÷B). form: ``auto``/``bxb``/``gram`` (see
    :func:`barlow_batchwise`). schedule: ``alternating`` (paper) or ``joint`` (predictors
    trained with the encoder). pred_epochs: predictor epochs per encoder epoch (released: 5 for
    time series/images, 1 for tabular). init: projector init, ``default`` as in the released
    time-series/tabular runs (``beta+dropout`` was used for images, with r=1).
    dpp_sample: samples used for the CKA kernel. seed: projector/DPP seed.
    loss_impl: ``auto`` (the fused Triton kernel of :mod:`core.objectives.kernels` for the
    barlow loss on CUDA tensors when triton imports, else torch), ``torch`` (reference) or
    ``triton`` (always the kernel: ``ValueError`` on CPU tensors unless ``TRITON_INTERPRET=1``).
    pred_compile: ``off`` (eager stacked heads) or a ``torch.compile`` mode for the predictor
    heads (``reduce-overhead`` = CUDA graphs); which wins for small, launch-bound shapes is
    decided by ``benchmarks/loss_kernel.py`` on a GPU, so the default stays ``off``.
    pred_precision: ``32`` (float32 GEMMs) or ``bf16``: the predictor heads' first-layer GEMMs
    (forward, input and weight gradients, in both phases) in bfloat16 on a cached bf16 copy of
    the float32 weights, which the optimiser keeps updating in float32; the loss stays float32.
    Pays on CPUs with AVX512-BF16/AMX and on GPUs (``benchmarks/lfr_step.py``).
    target_cache: ``auto`` (cache the (N, K, d) targets once when they take at most
    ``target_cache_mb``, else recompute them per batch from the frozen bank), ``on`` or ``off``.
    Recomputed and cached targets are equal: the bank is a frozen function of the input.
    pred_sample: the predictor phase of each outer epoch trains on a seeded subsample of this
    many pool samples (embedded, and with recomputed targets projected, shard by shard); a pool
    at or under it is used whole, as in the released code.
    """

    k: int = 6
    candidates_per_slot: int = 10
    proj_dim: Optional[int] = None
    pred_layers: int = 1
    pred_hidden: Optional[int] = None
    lambd: float = 0.01
    loss: str = "barlow"
    reduction: str = "sum"
    form: str = "auto"
    schedule: str = "alternating"
    pred_epochs: int = 5
    init: str = "default"
    dpp_sample: int = 256
    seed: int = 0
    loss_impl: str = "auto"
    pred_compile: str = "off"
    pred_precision: str = "32"
    target_cache: str = "auto"
    target_cache_mb: int = 1024
    pred_sample: int = 2 ** 18

    def __post_init__(self):
        def positive_int(name, value, minimum=1, optional=False):
            check_int("LFR", name, value, minimum, optional)

        def choice(name, value, allowed):
            check_choice("LFR", name, value, allowed)

        positive_int("k", self.k)
        positive_int("candidates_per_slot", self.candidates_per_slot)
        positive_int("proj_dim", self.proj_dim, optional=True)
        positive_int("pred_hidden", self.pred_hidden, optional=True)
        positive_int("pred_epochs", self.pred_epochs, minimum=1 if self.schedule == "alternating" else 0)
        positive_int("dpp_sample", self.dpp_sample, minimum=2)
        positive_int("seed", self.seed, minimum=0)
        positive_int("target_cache_mb", self.target_cache_mb, minimum=0)
        positive_int("pred_sample", self.pred_sample, minimum=2)
        choice("target_cache", self.target_cache, TARGET_CACHE)
        choice("pred_layers", self.pred_layers, (1, 2))
        choice("loss", self.loss, LOSSES)
        choice("reduction", self.reduction, REDUCTIONS)
        choice("form", self.form, FORMS)
        choice("schedule", self.schedule, SCHEDULES)
        choice("init", self.init, INIT_SCHEMES)
        choice("loss_impl", self.loss_impl, LOSS_IMPLS)
        choice("pred_compile", self.pred_compile, PRED_COMPILE)
        if isinstance(self.pred_precision, int) and not isinstance(self.pred_precision, bool):
            object.__setattr__(self, "pred_precision", str(self.pred_precision))  # YAML / --set read 32 as a number
        choice("pred_precision", self.pred_precision, tuple(PRED_PRECISIONS))
        if self.loss_impl == "triton" and self.loss != "barlow":
            raise ValueError(f"LFR loss_impl='triton' is the fused barlow kernel; loss={self.loss!r} needs "
                             "loss_impl 'auto' or 'torch'")
        if isinstance(self.lambd, bool) or not isinstance(self.lambd, (int, float)) or not self.lambd >= 0:
            raise ValueError(f"LFR lambd must be a number >= 0, got {self.lambd!r}")

    @classmethod
    def from_params(cls, params: Optional[dict]) -> "LFRConfig":
        """Build from a params mapping; unknown keys raise ``ValueError`` naming them.

        Numbers given as strings (YAML reads ``1e-2`` as a string) are converted.
        """
        return config_from_params(cls, params, "LFR")


# ------------------------------------------------------------------------- module
class LFR(Objective):
    """The LFR objective (protocol of :mod:`core.objectives`) around a frozen projector bank.

    ``targets (N, K, d)``: the bank's outputs for the whole pretrain pool indexed by sample
    index, filled by :meth:`prepare` when they fit (``target_cache``; else each batch is
    projected as it comes). It is a plain tensor attribute, not a registered buffer:
    it is not saved in state dicts (recomputed cheaply) and DDP does not broadcast it every
    step (DDP broadcasts all buffers, persistent or not).
    """

    def __init__(self, bank: nn.Module, config: LFRConfig, dim: int):
        super().__init__()
        if getattr(bank, "k", config.k) != config.k:
            raise ValueError(f"projector bank has k={bank.k} networks but LFR k={config.k}")
        self.config, self.dim = config, dim
        self.bank = bank.requires_grad_(False).eval()
        out_dim = getattr(bank, "out_dim", None) or config.proj_dim or dim
        self.predictors = StackedPredictors(config.k, dim, out_dim, config.pred_layers, config.pred_hidden)
        self.predictors.requires_grad_(config.schedule == "joint")
        self.targets, self.out_dim, self.cached = torch.empty(0, config.k, out_dim), out_dim, True
        self.target_loss = TargetLoss(config.loss, config.lambd, config.reduction, config.form, config.loss_impl)
        self._grad_buffers: dict = {}  # the predictor phase's weight-gradient buffers, kept between phases

    def train(self, mode: bool = True) -> "LFR":
        super().train(mode)
        self.bank.eval()  # projectors are frozen functions: always eval
        return self

    # -- protocol -------------------------------------------------------------------
    @torch.no_grad()
    def prepare(self, encoder: nn.Module, loader, device) -> None:
        """Cache the bank's outputs for every sample of ``loader`` (``(x, y, index)`` batches).

        ``encoder`` is unused (LFR targets depend on the input only). Targets are stored on
        ``device`` in the bank's dtype (float32 for half-precision banks). When
        :meth:`caches_targets` says no (``target_cache``), nothing is computed here: every batch
        projects its own inputs (:meth:`batch_targets`).
        """
        self.bank.eval()
        n = len(loader.dataset)
        self.cached = self.caches_targets(n)
        if not self.cached:
            self.targets = torch.empty(0, self.config.k, self.out_dim)
            return
        targets, seen = None, torch.zeros(n, dtype=torch.bool)
        for x, _, index in loader:
            x = x.to(device) if hasattr(x, "to") else x
            out = self.bank(x).transpose(0, 1)  # (B, K, d)
            if targets is None:
                dtype = out.dtype if out.dtype in (torch.float32, torch.float64) else torch.float32
                targets = torch.zeros(n, *out.shape[1:], dtype=dtype, device=device)
            index = torch.as_tensor(index, dtype=torch.long)
            targets[index.to(device)] = out.to(targets.dtype)
            seen[index.cpu()] = True
        if targets is None or not bool(seen.all()):
            raise ValueError(f"LFR.prepare: the loader covered {int(seen.sum())} of {n} samples; "
                             "it must yield (x, y, index) over the whole pretrain pool")
        self.targets = targets

    def caches_targets(self, n: int) -> bool:
        """Whether the targets of an ``n``-sample pool are cached (``config.target_cache``)."""
        mode = self.config.target_cache
        if mode != "auto":
            return mode == "on"
        return n * self.config.k * self.out_dim * 4 <= self.config.target_cache_mb * 2 ** 20

    @torch.no_grad()
    def batch_targets(self, x) -> torch.Tensor:
        """The bank's outputs for a batch ``(B, K, d)`` (float32 at least), computed now."""
        out = self.bank(x).transpose(0, 1)
        return out if out.dtype in (torch.float32, torch.float64) else out.float()

    def pool_targets(self, x) -> Optional[torch.Tensor]:
        """Targets of pool inputs for the predictor phase: ``None`` when they are cached (looked
        up by index), else :meth:`batch_targets`."""
        return None if self.cached else self.batch_targets(x)

    @property
    def inner_sample_size(self) -> int:
        """Pool samples the predictor phase trains on per outer epoch (``config.pred_sample``)."""
        return self.config.pred_sample

    def _targets_of(self, index, x=None) -> torch.Tensor:
        """``(B, K, d)`` targets by cache lookup, or projected from ``x`` when not cached."""
        if not self.cached:
            return self.batch_targets(x)
        return self.targets[torch.as_tensor(index, device=self.targets.device, dtype=torch.long)]

    def _check_prepared(self) -> None:
        if self.cached and self.targets.shape[0] == 0:
            raise RuntimeError("LFR targets are not cached: call prepare(encoder, loader, device) first")

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The configured per-target loss averaged over K (:class:`TargetLoss`: the torch
        reference in at least float32, or the fused Triton kernel as ``config.loss_impl`` selects)."""
        return self.target_loss(pred, target)

    def rank_checks(self) -> dict:
        """What must be identical on every rank under DDP: the frozen projector bank's hash."""
        return {"projector_bank": bank_hash(self.bank)}

    def encoder_loss(self, z: torch.Tensor, x, index: torch.Tensor) -> torch.Tensor:
        """loss(predictors(z), targets[index]). Under ``alternating`` the predictor parameters
        are used detached (no gradient reaches them whatever their ``requires_grad``)."""
        self._check_prepared()
        target = self._targets_of(index, x).to(z.device)
        return self.loss(self.heads(z, detached=self.config.schedule == "alternating"), target.transpose(0, 1))

    @property
    def compute_dtype(self) -> Optional[torch.dtype]:
        """The heads' GEMM dtype (``config.pred_precision``); ``None`` = the weights' own."""
        return PRED_PRECISIONS[self.config.pred_precision]

    def heads(self, z: torch.Tensor, detached: bool = False) -> torch.Tensor:
        """``predictors(z)`` ``(K, B, d)``; ``detached``: with the predictor parameters detached
        (no gradient reaches them; only the input gradient is computed). ``config.pred_compile``
        other than ``off`` runs the stacked heads through ``torch.compile`` in that mode
        (compiled once per LFR, lazily)."""
        mode, kwargs = self.config.pred_compile, {"compute_dtype": self.compute_dtype}
        if mode == "off" and not detached:
            return self.predictors(z, **kwargs)
        params = {n: (p.detach() if detached else p) for n, p in self.predictors.named_parameters()}
        if mode == "off":
            return torch.func.functional_call(self.predictors, params, (z,), kwargs)
        fn = _COMPILED_HEADS.get(self.predictors)
        if fn is None:
            predictors = self.predictors

            def apply(params, z):
                return torch.func.functional_call(predictors, params, (z,), kwargs)

            fn = _COMPILED_HEADS[self.predictors] = torch.compile(apply, mode=mode, dynamic=False)
        return fn(params, z)

    def encoder_phase_parameters(self) -> list:
        return list(self.predictors.parameters()) if self.config.schedule == "joint" else []

    def inner_parameters(self) -> list:
        return list(self.predictors.parameters()) if self.config.schedule == "alternating" else []

    @property
    def inner_epochs(self) -> int:
        return self.config.pred_epochs if self.config.schedule == "alternating" else 0

    def inner_phase(self, embeddings: torch.Tensor, index: torch.Tensor, optimizer, batch_size: int,
                    generator: Optional[torch.Generator] = None, targets: Optional[torch.Tensor] = None) -> float:
        """Train the predictors for ``inner_epochs`` epochs on cached ``embeddings (N, D)``
        against ``targets[index]`` (or the given ``targets (N, K, d)``, projected with the
        embeddings when they are not cached): shuffled minibatches (``generator``), no encoder pass.

        Each step fills the gradients with :class:`~core.objectives.predictor_step.PredictorStep`
        (the first-layer weight gradient by one GEMM into a buffer kept from phase to phase, none for the
        embeddings) and calls ``optimizer.step()``; with ``pred_compile`` other than ``off`` the
        compiled heads run under plain autograd instead. Predictor parameters get
        ``requires_grad=True`` for the phase and their previous flags back afterwards (their
        ``.grad`` is dropped); the predictors run in train mode. A trailing batch of one sample is
        skipped with 2-layer heads (BatchNorm needs two). Returns the mean loss (nan if no step).
        """
        self._check_prepared()
        params = list(self.predictors.parameters())
        flags, was_training = [p.requires_grad for p in params], self.predictors.training
        fast = self.config.pred_compile == "off"
        emb = embeddings.detach().to((self.compute_dtype if fast else None) or self.predictors.weight0.dtype)
        target = targets if targets is not None else self._targets_of(index)
        target = target.to(emb.device).transpose(0, 1)  # (K, N, d)
        mirror = MirrorAdam.create(optimizer, self.predictors.weight0, self.compute_dtype) if fast else None
        step = PredictorStep(self.predictors, self.loss, self.compute_dtype, float32_weight_grad=mirror is None,
                             buffers=self._grad_buffers)
        losses = []
        try:
            for p in params:
                p.requires_grad_(True)
            self.predictors.train()
            for _ in range(self.inner_epochs):
                order = torch.randperm(len(emb), generator=generator).to(emb.device)
                for batch in order.split(batch_size):
                    if len(batch) < 2 and self.config.pred_layers == 2:
                        continue
                    if fast:
                        loss = step(emb[batch], target[:, batch])
                        if mirror is not None:  # weight0: Adam and its bf16 copy in one pass; the rest below
                            copy = self.predictors.weight_copy(self.compute_dtype)
                            if not mirror.step(step.low_weight_grad, copy):
                                mirror = None
                                step.cast_weight_grad()
                    else:
                        loss = self.loss(self.heads(emb[batch]), target[:, batch])
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                    optimizer.step()
                    self.predictors.weights_updated()
                    if mirror is not None:
                        self.predictors.copy_refilled(self.compute_dtype)
                    losses.append(loss.detach())
        finally:
            step.release()
            for p, flag in zip(params, flags):
                p.requires_grad_(flag)
            self.predictors.train(was_training)
        return torch.stack(losses).mean().item() if losses else float("nan")


_COMPILED_HEADS: "weakref.WeakKeyDictionary[nn.Module, Callable]" = weakref.WeakKeyDictionary()


def sample_size(params: Optional[dict]) -> int:
    """How many seeded pretrain inputs :func:`build_lfr` wants as ``sample``: ``dpp_sample``."""
    return int(dict(params or {}).get("dpp_sample", LFRConfig.dpp_sample))


def build_lfr(input_spec, dim: int, params: Optional[dict], projector_build: Callable[[int, int], nn.Module],
              sample=None) -> LFR:
    """Build the LFR objective: config from ``params``, a frozen bank of ``k`` projectors from
    ``projector_build(n, proj_dim)`` chosen by :func:`core.projectors.build_bank` on the first
    ``dpp_sample`` rows of ``sample`` (identical on every rank), and the predictor heads.
    ``input_spec`` is accepted for the objective-factory signature."""
    cfg = LFRConfig.from_params(params)
    out_dim = cfg.proj_dim or dim
    if isinstance(sample, torch.Tensor):
        sample = sample[: cfg.dpp_sample]
    bank = build_bank(lambda n: projector_build(n, out_dim), cfg.k, candidates_per_slot=cfg.candidates_per_slot,
                      init=cfg.init, sample=sample, seed=cfg.seed)
    return LFR(bank, cfg, dim)
