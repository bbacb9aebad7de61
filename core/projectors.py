"""Random projector banks: K frozen random networks evaluated as ONE module (docs/design.md#lfr).

LFR (Sui et al. 2023, "Self-supervised Representation Learning from Random Data
Projectors") trains an encoder to predict the outputs of K randomly initialised, frozen
*projector* networks g_k applied to the raw input. A bank holds all K networks at once:
every parameter carries a leading K axis (per-network slice = the ordinary ``nn.Linear`` /
``nn.ConvNd`` weight), so

* the forward pass is one GEMM / one convolution with K·H output channels for the first
  layer, grouped convolutions (``groups=K``) and ``bmm`` afterwards, never a Python loop;
* selecting networks is ``param[idx]`` along dim 0 (:func:`select_networks`).

Banks map a batch to ``(K, B, out_dim)``. :func:`build_bank` seeds, initialises
(:func:`init_bank`), picks K of r·K candidates by greedy MAP-DPP (Chen, Zhang & Zhou 2018)
on the uncentred linear-CKA kernel (Kornblith et al. 2019) and freezes the result.
"""
from __future__ import annotations

import copy
import hashlib
import math
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "ProjectorBank", "MLPBank", "Conv1dBank", "Conv2dBank", "TokenConvBank",
    "select_networks", "init_bank", "cka_kernel", "greedy_map_dpp", "build_candidates",
    "build_bank", "bank_hash", "make_bank_for_input", "default_bank_factory", "projector_build",
    "INIT_SCHEMES", "DROPOUT_RATE",
]

INIT_SCHEMES = ("default", "beta", "default+dropout", "beta+dropout")
DROPOUT_RATE = 0.4


# --------------------------------------------------------------------------- banks
def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape))


def _generic_fan_in(bank: nn.Module, name: str) -> int:
    """Fan-in of ONE network for parameter ``name``: weights ``(K, out, in, *kernel)`` give
    ``in·prod(kernel)``; a bias uses the fan-in of the weight with the same name."""
    params = dict(bank.named_parameters())
    p = params[name]
    if p.ndim >= 3:
        return math.prod(p.shape[2:])
    head, _, last = name.rpartition(".")
    weight_name = (head + "." if head else "") + last.replace("bias", "weight")
    if weight_name == name or weight_name not in params:
        raise ValueError(f"cannot infer the fan-in of {name!r}; give the bank a fan_in(name) method")
    return _generic_fan_in(bank, weight_name)


def _head(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Grouped linear layer: ``h (K, B, H)``, ``weight (K, d, H)`` -> ``(K, B, d)`` by ``bmm``."""
    return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))


class ProjectorBank(nn.Module):
    """Thin shared surface of the built-in banks: ``k``, ``out_dim``, ``fan_in``, ``select``.

    Parameters are named ``weight{i}``/``bias{i}`` (layer i, last = output layer) with shape
    ``(K, *torch_layer_shape)``. Plugin banks need not subclass this: the host only relies
    on the leading K axis (and uses :func:`_generic_fan_in` when ``fan_in`` is absent).
    """

    k: int
    out_dim: int

    def fan_in(self, name: str) -> int:
        return _generic_fan_in(self, name)

    def select(self, indices) -> "ProjectorBank":
        return select_networks(self, indices)

    def _per_layer(self, n: int) -> list[tuple[nn.Parameter, nn.Parameter]]:
        return [(getattr(self, f"weight{i}"), getattr(self, f"bias{i}")) for i in range(n)]

    def extra_repr(self) -> str:
        return f"k={self.k}, out_dim={self.out_dim}"


class MLPBank(ProjectorBank):
    """K MLPs ``Linear(F,H)-ReLU-...-Linear(H,d)`` with ``depth`` linear layers on flattened input.

    The first layer of all K networks is one GEMM ``x (B,F) @ W (F, K·H)``; later layers
    are ``bmm`` over ``(K, B, H)``. Weights: ``weight0 (K,H,F)``, ..., ``weight{depth-1} (K,d,H)``.
    """

    def __init__(self, in_features: int, k: int, out_dim: int, hidden: int = 256, depth: int = 2):
        super().__init__()
        if depth < 1:
            raise ValueError(f"MLPBank depth must be >= 1, got {depth}")
        self.k, self.out_dim, self.in_features, self.depth = k, out_dim, in_features, depth
        dims = [in_features] + [hidden] * (depth - 1) + [out_dim]
        for i in range(depth):
            setattr(self, f"weight{i}", _param(k, dims[i + 1], dims[i]))
            setattr(self, f"bias{i}", _param(k, dims[i + 1]))
        init_bank(self, "default", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = self._per_layer(self.depth)
        w0, b0 = layers[0]
        x = x.reshape(x.shape[0], -1).to(w0.dtype)
        h = F.linear(x, w0.reshape(-1, w0.shape[-1]), b0.reshape(-1))  # (B, K*H0)
        h = h.view(x.shape[0], self.k, -1).transpose(0, 1)  # (K, B, H0)
        for w, b in layers[1:]:
            h = _head(torch.relu(h), w, b)
        return h


class _ConvBank(ProjectorBank):
    """K conv nets ``[ConvNd-ReLU] × depth -> global mean pool -> Linear(H, d)``.

    Layer 0 is one convolution with K·H output channels; layers 1.. are grouped
    (``groups=K``) on K·H channels; the head is a ``bmm``. Conv weights ``(K, H, C, *kernel)``.
    """

    _nd = 1

    def __init__(self, in_channels: int, k: int, out_dim: int, hidden: int, depth: int,
                 kernel_size: int, stride: int):
        super().__init__()
        if depth < 1:
            raise ValueError(f"{type(self).__name__} depth must be >= 1, got {depth}")
        self.k, self.out_dim, self.in_channels, self.depth = k, out_dim, in_channels, depth
        self.stride, self.padding = stride, kernel_size // 2
        kernel = (kernel_size,) * self._nd
        for i in range(depth):
            setattr(self, f"weight{i}", _param(k, hidden, in_channels if i == 0 else hidden, *kernel))
            setattr(self, f"bias{i}", _param(k, hidden))
        setattr(self, f"weight{depth}", _param(k, out_dim, hidden))
        setattr(self, f"bias{depth}", _param(k, out_dim))
        init_bank(self, "default", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = F.conv1d if self._nd == 1 else F.conv2d
        layers = self._per_layer(self.depth + 1)
        if x.ndim == self._nd + 1:  # missing channel axis (e.g. mono audio (B, L))
            x = x.unsqueeze(1)
        h = x.to(layers[0][0].dtype)
        for i, (w, b) in enumerate(layers[:-1]):
            h = conv(h, w.flatten(0, 1), b.reshape(-1), stride=self.stride, padding=self.padding,
                     groups=1 if i == 0 else self.k)
            h = torch.relu_(h)  # in place: a 12 x 5000 batch's first map is ~130 MB (the conv backward never needs it)
        h = h.flatten(2).mean(-1)  # global average pool -> (B, K*H)
        h = h.view(h.shape[0], self.k, -1).transpose(0, 1)
        return _head(h, *layers[-1])


class Conv1dBank(_ConvBank):
    """K 1-D conv nets on ``(B, C, L)`` (sequences, audio); see :class:`_ConvBank`."""

    _nd = 1

    def __init__(self, in_channels: int, k: int, out_dim: int, hidden: int = 32, depth: int = 3,
                 kernel_size: int = 7, stride: int = 2):
        super().__init__(in_channels, k, out_dim, hidden, depth, kernel_size, stride)


class Conv2dBank(_ConvBank):
    """K 2-D conv nets on ``(B, C, H, W)`` (images); see :class:`_ConvBank`."""

    _nd = 2

    def __init__(self, in_channels: int, k: int, out_dim: int, hidden: int = 32, depth: int = 3,
                 kernel_size: int = 3, stride: int = 2):
        super().__init__(in_channels, k, out_dim, hidden, depth, kernel_size, stride)


class TokenConvBank(ProjectorBank):
    """K nets ``Embedding(V,E) -> Conv1d(E,H) -> ReLU -> masked mean -> Linear(H,d)`` on ids ``(B, L)``.

    Id 0 is padding: its embedding is zeroed (equal to the convolution's zero padding, so the
    output does not depend on how much padding follows a sequence) and it is left out of the
    mean. One lookup in a table of width K·E (``embedding (K, V, E)``), one grouped conv.
    """

    def __init__(self, vocab_size: int, k: int, out_dim: int, embed_dim: int = 32, hidden: int = 64,
                 kernel_size: int = 5):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"TokenConvBank kernel_size must be odd (length-preserving), got {kernel_size}")
        self.k, self.out_dim, self.vocab_size, self.padding = k, out_dim, vocab_size, kernel_size // 2
        self.embedding = _param(k, vocab_size, embed_dim)
        self.weight0, self.bias0 = _param(k, hidden, embed_dim, kernel_size), _param(k, hidden)
        self.weight1, self.bias1 = _param(k, out_dim, hidden), _param(k, out_dim)
        init_bank(self, "default", None)

    def fan_in(self, name: str) -> int:
        # an embedding row is a lookup, not a sum: fan-in 1, i.e. U(-1, 1) under "default"
        return 1 if name == "embedding" else _generic_fan_in(self, name)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        mask = (ids != 0).to(self.embedding.dtype)  # (B, L)
        table = self.embedding.transpose(0, 1).reshape(self.vocab_size, -1)  # (V, K*E)
        e = F.embedding(ids, table) * mask.unsqueeze(-1)  # (B, L, K*E)
        h = F.conv1d(e.transpose(1, 2), self.weight0.flatten(0, 1), self.bias0.reshape(-1),
                     padding=self.padding, groups=self.k)
        h = (torch.relu(h) * mask.unsqueeze(1)).sum(-1) / mask.sum(-1, keepdim=True).clamp_min(1)
        h = h.view(h.shape[0], self.k, -1).transpose(0, 1)
        return _head(h, self.weight1, self.bias1)


# ----------------------------------------------------------------- select / init
def select_networks(bank: nn.Module, indices) -> nn.Module:
    """A copy of ``bank`` keeping networks ``indices``: every parameter/buffer sliced on dim 0."""
    idx = torch.as_tensor(indices, dtype=torch.long).flatten()
    k = getattr(bank, "k", None)
    if k is not None and len(idx) and (idx.min() < 0 or idx.max() >= k):
        raise ValueError(f"network indices must lie in [0, {k}), got {idx.tolist()}")
    new = copy.deepcopy(bank)
    with torch.no_grad():
        for mod in new.modules():
            for name, p in list(mod._parameters.items()):
                if p is not None:
                    mod._parameters[name] = nn.Parameter(p[idx.to(p.device)].clone(), p.requires_grad)
            for name, b in list(mod._buffers.items()):
                if b is not None and b.ndim > 0:
                    mod._buffers[name] = b[idx.to(b.device)].clone()
    if k is not None:
        new.k = len(idx)
    return new


def init_bank(bank: nn.Module, scheme: str, generator: Optional[torch.Generator]) -> nn.Module:
    """Initialise every parameter of ``bank`` in place, all randomness from ``generator``.

    * ``default``: PyTorch's per-layer default, U(-1/√fan_in, 1/√fan_in) for weights and
      biases, fan_in of ONE network (``bank.fan_in(name)``).
    * ``beta``: weights ~ 2·Beta(0.5, 0.5) − 1 (arcsine law on [-1, 1], sampled exactly as
      cos(πU), U ~ U(0,1)); biases as ``default``.
    * ``+dropout`` suffix: permanently zero round(40 %) of each network's entries of every
      weight, applied AFTER the other init (the released code let beta init overwrite the
      dropout masks; here the zeros survive).

    Weights are parameters with ≥ 3 dims ``(K, out, in, ...)``; biases have 2 ``(K, out)``.
    """
    base, _, suffix = scheme.partition("+")
    if base not in ("default", "beta") or suffix not in ("", "dropout"):
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
    fan_in = getattr(bank, "fan_in", None) or (lambda name: _generic_fan_in(bank, name))
    rand = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    with torch.no_grad():
        for name, p in sorted(bank.named_parameters()):
            if base == "beta" and p.ndim >= 3:
                value = torch.cos(math.pi * rand(p.shape))
            else:
                value = (2 * rand(p.shape) - 1) / math.sqrt(fan_in(name))
            if suffix == "dropout" and p.ndim >= 3:
                n = p[0].numel()
                drop = rand(p.shape[0], n).argsort(dim=1)[:, : int(round(DROPOUT_RATE * n))]
                value = value.view(p.shape[0], n).scatter(1, drop, 0.0).view(p.shape)
            p.copy_(value)
    return bank


# -------------------------------------------------------------- diversity (CKA + DPP)
def cka_kernel(outputs: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Uncentred linear CKA between candidates, ``outputs (M, N, d)`` -> ``(M, M)``.

    With X̂ the row-normalised outputs (each sample's d-vector to unit norm),
    CKA(X, Y) = ‖X̂ᵀŶ‖_F² / (‖X̂ᵀX̂‖_F ‖ŶᵀŶ‖_F) (linear CKA of Kornblith et al. 2019, without centring).
    Batched as cosine similarity of vec(X̂X̂ᵀ) (N×N Grams, since ⟨X̂X̂ᵀ, ŶŶᵀ⟩_F = ‖X̂ᵀŶ‖_F²)
    or, when cheaper (d < N), of the blocks of the stacked (M·d)×(M·d) feature Gram. A dead
    network (all outputs 0) gets 0 on the diagonal, so the DPP never prefers it.
    """
    x = outputs / outputs.norm(dim=-1, keepdim=True).clamp_min(eps)
    m, n, d = x.shape
    if m * d * d < n * n:  # feature-space form: blocks X̂_aᵀX̂_b of Z ᵀZ, Z = [X̂_1 ... X̂_M]
        z = x.transpose(0, 1).reshape(n, m * d)
        num = (z.T @ z).view(m, d, m, d).pow(2).sum((1, 3))
    else:
        g = torch.bmm(x, x.transpose(1, 2)).reshape(m, n * n)
        num = g @ g.T
    norms = num.diagonal().clamp_min(0).sqrt()
    return num / (norms[:, None] * norms[None, :]).clamp_min(eps)


def greedy_map_dpp(L: torch.Tensor, k: int, eps: float = 1e-10) -> torch.Tensor:
    """Greedy MAP of a DPP with PSD kernel ``L (M, M)``: exactly ``k`` distinct indices.

    Chen, Zhang & Zhou 2018, Alg. 1: keep the incremental Cholesky rows c_i and
    d_i² = L_ii − ‖c_i‖²; pick j = argmax d_i², then e_i = (L_ji − ⟨c_j, c_i⟩)/d_j,
    c_i ← [c_i, e_i], d_i² ← d_i² − e_i² (each step maximises log det L_S). When the gain
    d_j² falls below ``eps`` (duplicates, rank deficiency) the remaining slots are filled
    deterministically, farthest-first: the candidate with the smallest maximum similarity
    L_ij to the chosen set (lowest index on ties).
    """
    L = torch.as_tensor(L, dtype=torch.float64)
    m = L.shape[0]
    if L.ndim != 2 or L.shape[1] != m:
        raise ValueError(f"DPP kernel must be square, got shape {tuple(L.shape)}")
    if not 1 <= k <= m:
        raise ValueError(f"cannot select k={k} of {m} candidates")
    c = torch.zeros(k, m, dtype=torch.float64)
    d2 = L.diagonal().clone()
    selected: list[int] = []
    j = int(torch.argmax(d2))
    while d2[j] >= eps:
        selected.append(j)
        if len(selected) == k:
            break
        t = len(selected) - 1
        e = (L[j] - c[:t, j] @ c[:t]) / d2[j].sqrt()
        c[t] = e
        d2 -= e * e
        d2[selected] = -math.inf
        j = int(torch.argmax(d2))
    chosen = torch.zeros(m, dtype=torch.bool)
    chosen[selected] = True
    while len(selected) < k:  # deterministic fill
        sim = L[:, selected].max(dim=1).values if selected else torch.zeros(m, dtype=torch.float64)
        sim[chosen] = math.inf
        j = int(torch.argmin(sim))
        selected.append(j)
        chosen[j] = True
    return torch.tensor(selected, dtype=torch.long)


# ------------------------------------------------------------------------- build
def build_candidates(make: Callable[[int], nn.Module], n: int, init: str, seed: int) -> nn.Module:
    """``make(n)`` then :func:`init_bank` with ``torch.Generator().manual_seed(seed)``.

    Construction runs under ``torch.random.fork_rng`` seeded with ``seed``: the caller's global
    RNG is left untouched and any draw ``make`` does itself is reproducible too.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bank = make(n)
    if getattr(bank, "k", n) != n:
        raise ValueError(f"projector factory asked for {n} networks returned a bank with k={bank.k}")
    return init_bank(bank, init, torch.Generator().manual_seed(seed))


CANDIDATE_BUDGET_BYTES = 256 * 2 ** 20  # float32 activations of one chunk of candidate outputs, roughly


def candidate_chunk(sample, m: int) -> int:
    """Samples per chunk when ``m`` candidates are evaluated on ``sample``: at most 2048 // m, and
    few enough that a chunk's first-layer activations (float32, assumed 32 channels per input
    element and candidate) stay near :data:`CANDIDATE_BUDGET_BYTES` for long inputs (a 12 × 5000
    ECG record is evaluated a few at a time, not 34 at once)."""
    per_sample = int(sample[0].numel()) if isinstance(sample, torch.Tensor) and len(sample) else 1
    return max(1, min(2048 // m, CANDIDATE_BUDGET_BYTES // (per_sample * m * 32 * 4)))


@torch.no_grad()
def _candidate_outputs(bank: nn.Module, sample, chunk: int) -> torch.Tensor:
    """The candidates' outputs on ``sample``, float64 for the kernel. The networks run in float32 on
    the CPU (the same computation on every rank): a float64 forward is 6x slower for convolutions
    and fragments glibc's heap, about 9 MB kept per 12 x 5000 record (measured)."""
    probe = copy.deepcopy(bank).float().eval()
    if isinstance(sample, torch.Tensor):
        sample = sample.cpu().float() if sample.is_floating_point() else sample.cpu()
        return torch.cat([probe(part).double() for part in sample.split(chunk)], dim=1)
    return probe(sample).double()


def build_bank(make: Callable[[int], nn.Module], k: int, *, candidates_per_slot: int = 10,
               init: str = "default", sample=None, seed: int = 0) -> nn.Module:
    """A frozen bank of ``k`` networks, bit-identical for the same ``seed`` (and ``sample``).

    With ``candidates_per_slot`` r > 1 and a ``sample``: build r·k candidates
    (:func:`build_candidates`), evaluate them on ``sample`` (CPU, float32, no grad), compute
    :func:`cka_kernel` and keep the :func:`greedy_map_dpp` choice (in selection order).
    Otherwise build and keep just ``k`` networks. The result is frozen: every parameter has
    ``requires_grad=False`` and the bank is in eval mode. ``sample`` must be identical on
    every rank (it is under DDP when drawn with a fixed seed).
    """
    if k < 1 or candidates_per_slot < 1:
        raise ValueError(f"need k >= 1 and candidates_per_slot >= 1, got {k}, {candidates_per_slot}")
    select = candidates_per_slot > 1 and sample is not None
    bank = build_candidates(make, k * candidates_per_slot if select else k, init, seed)
    if select:
        m = k * candidates_per_slot
        outputs = _candidate_outputs(bank, sample, chunk=candidate_chunk(sample, m))
        bank = select_networks(bank, greedy_map_dpp(cka_kernel(outputs), k))
    bank.requires_grad_(False)
    return bank.eval()


def bank_hash(bank: nn.Module) -> str:
    """sha256 over the bank's parameters and buffers (sorted by name: name, dtype, shape, bytes)."""
    h = hashlib.sha256()
    tensors = dict(bank.named_parameters())
    tensors.update(dict(bank.named_buffers()))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.flatten().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# --------------------------------------------------------------- modality defaults
def make_bank_for_input(input_spec, k: int, out_dim: int) -> nn.Module:
    """The generic bank for an ``InputSpec``: MLP (vector), Conv1d (sequence, audio),
    Conv2d (image), TokenConv (tokens). Graphs need a plugin-provided projector."""
    shape, modality = tuple(input_spec.shape), input_spec.modality
    if modality == "vector":
        return MLPBank(math.prod(shape), k, out_dim)
    if modality in ("sequence", "audio"):
        return Conv1dBank(shape[0] if len(shape) >= 2 else 1, k, out_dim)
    if modality == "image":
        return Conv2dBank(shape[0] if len(shape) >= 3 else 1, k, out_dim)
    if modality == "tokens":
        return TokenConvBank(int(input_spec.vocab_size), k, out_dim)
    raise ValueError(f"no generic projector bank for modality {modality!r}; "
                     "use a plugin that provides one (`core list projectors`)")


def default_bank_factory(input_spec) -> Callable[[int, int], nn.Module]:
    """``(k, out_dim) -> bank`` for ``input_spec`` (the ``projector_build`` LFR expects)."""
    return lambda k, out_dim: make_bank_for_input(input_spec, k, out_dim)


def projector_build(projector, input_spec) -> Callable[[int, int], nn.Module]:
    """``(k, out_dim) -> bank`` from a registered :class:`~core.specs.ProjectorSpec` for
    ``input_spec``: the ``projector_build`` of :func:`core.objectives.lfr.build_lfr`."""
    return lambda k, out_dim: projector.build(input_spec, k, out_dim)
