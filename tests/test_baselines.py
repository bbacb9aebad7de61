"""Baseline objectives (autoencoder, DIET, supervised, SimCLR, SimSiam): each trains on tiny data
and its loss goes down; their pure loss terms; how the host feeds them (context keywords,
training pool, the optional core_augmentations hook)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from core import builtins
from core.data import ArrayDataset
from core.encoders import build_conv, build_mlp, build_tokens
from core.objectives.autoencoder import ConvTransposeDecoder, build_autoencoder
from core.objectives.diet import build_diet, diet_loss
from core.objectives.simclr import build_simclr, nt_xent_loss
from core.objectives.simsiam import build_simsiam, simsiam_loss
from core.objectives.supervised import build_supervised, supervised_loss
from core.specs import AugmentationSpec, InputSpec, LoadedDataset, ObjectiveSpec, Task
from core.training import make_loader

SPECS = {
    "vector": InputSpec("vector", (12,)),
    "sequence": InputSpec("sequence", (2, 30)),
    "image": InputSpec("image", (1, 12, 10)),
    "tokens": InputSpec("tokens", (14,), vocab_size=9),
}
ENCODERS = {"vector": build_mlp, "sequence": build_conv, "image": build_conv, "tokens": build_tokens}


pytestmark = pytest.mark.usefixtures("one_thread")


def _data(spec, n=24, seed=0, y=None):
    g = torch.Generator().manual_seed(seed)
    if spec.modality == "tokens":
        x = torch.randint(1, spec.vocab_size, (n, *spec.shape), generator=g)
        x[: n // 2, -4:] = 0  # padding
        return ArrayDataset(x.numpy(), y)
    base = torch.randn(n, 3, generator=g)  # low-rank data: something to learn
    mix = torch.randn(3, math.prod(spec.shape), generator=g)
    return ArrayDataset((base @ mix).view(n, *spec.shape).numpy().astype(np.float32), y)


def _jitter(x):
    return x + 0.1 * torch.randn_like(x)


def _train(spec, objective, dataset, steps=25, lr=3e-3, seed=0):
    """Adam on encoder + objective parameters; the loss before and after, evaluated under the same RNG state."""
    torch.manual_seed(seed)
    encoder = ENCODERS[spec.modality](spec, 16)
    loader = make_loader(dataset, len(dataset))
    objective.prepare(encoder, loader, torch.device("cpu"))
    x, _, index = next(iter(loader))
    opt = torch.optim.Adam(list(encoder.parameters()) + list(objective.encoder_phase_parameters()), lr=lr)

    def loss_now():
        inputs = objective.encoder_input(x, index) if hasattr(objective, "encoder_input") else x
        return objective.encoder_loss(encoder(inputs), x, index)

    def measured():
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(1234)
            return float(loss_now())

    before = measured()
    for _ in range(steps):
        loss = loss_now()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, measured()


@pytest.mark.parametrize("modality", sorted(SPECS))
def test_autoencoder_loss_decreases_for_every_input_kind(modality):
    spec = SPECS[modality]
    objective = build_autoencoder(spec, 16, {})
    decoder = type(objective.decoder).__name__
    assert decoder == ("MLPDecoder" if modality == "vector" else "ConvTransposeDecoder")
    assert objective.kind == ("tokens" if modality == "tokens" else "mse")
    before, after = _train(spec, objective, _data(spec))
    assert after < 0.8 * before, (before, after)


def test_transposed_conv_decoder_crops_to_odd_sizes():
    assert ConvTransposeDecoder(8, 3, (37,))(torch.randn(2, 8)).shape == (2, 3, 37)
    assert ConvTransposeDecoder(8, 1, (5, 9))(torch.randn(2, 8)).shape == (2, 1, 5, 9)
    assert ConvTransposeDecoder(8, 4, (1,))(torch.randn(2, 8)).shape == (2, 4, 1)
    with pytest.raises(ValueError, match="graph"):
        build_autoencoder(InputSpec("graph", (5,)), 8, {})


def test_diet_classifies_datum_indices_with_label_smoothing():
    spec = SPECS["sequence"]
    objective = build_diet(spec, 16, {"label_smoothing": 0.3}, num_samples=24)
    assert objective.head.out_features == 24
    before, after = _train(spec, objective, _data(spec).unlabelled())
    assert after < before - 0.1, (before, after)
    logits = torch.randn(4, 10)
    index = torch.tensor([0, 3, 9, 2])
    assert torch.allclose(diet_loss(logits, index, 0.0), nn.functional.cross_entropy(logits, index))
    assert diet_loss(logits, index, 0.8) != diet_loss(logits, index, 0.0)
    with pytest.raises(ValueError, match="num_samples"):
        build_diet(spec, 16, {})
    with pytest.raises(ValueError, match="label_smoothing"):
        build_diet(spec, 16, {"label_smoothing": 1.5}, num_samples=3)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression"])
def test_supervised_learns_the_train_labels(kind):
    spec = SPECS["vector"]
    n = 24
    rng = np.random.default_rng(0)
    y = {"multiclass": np.arange(n) % 3, "binary": np.arange(n) % 2,
         "multilabel": rng.integers(0, 2, (n, 3)).astype(np.float32),
         "regression": rng.standard_normal(n).astype(np.float32) * 5 + 10}[kind]
    task = Task(kind, class_names=("a", "b", "c") if kind in ("multiclass", "multilabel") else ())
    objective = build_supervised(spec, 16, {}, task=task)
    assert objective.head.out_features == (3 if kind in ("multiclass", "multilabel") else 1)
    before, after = _train(spec, objective, _data(spec, n, y=y), steps=30)
    assert after < 0.8 * before, (before, after)


def test_supervised_loss_ignores_unknown_labels_and_checks_widths():
    out = torch.randn(4, 3, requires_grad=True)
    full = supervised_loss(out, torch.tensor([0, 1, 2, 1]), "multiclass")
    partial = supervised_loss(out, torch.tensor([0, -1, 2, -1]), "multiclass")
    assert torch.isfinite(full) and torch.isfinite(partial) and full != partial
    none = supervised_loss(out, torch.full((4,), -1), "multiclass")
    none.backward()
    assert none == 0 and out.grad is not None
    y = torch.tensor([[1.0, float("nan"), 0.0]] * 4)
    assert torch.isfinite(supervised_loss(torch.randn(4, 3), y, "multilabel"))
    objective = build_supervised(SPECS["vector"], 8, {}, task=Task("multiclass", ("a", "b")))
    with pytest.raises(ValueError, match="num_outputs"):
        objective.prepare(None, make_loader(_data(SPECS["vector"], 6, y=np.arange(6) % 3), 6), "cpu")
    with pytest.raises(ValueError, match="task"):
        build_supervised(SPECS["vector"], 8, {})
    with pytest.raises(ValueError, match="names no classes"):
        build_supervised(SPECS["vector"], 8, {}, task=Task("multiclass"))


@pytest.mark.parametrize("build", [build_simclr, build_simsiam])
def test_augmentation_baselines_loss_decreases(build):
    spec = SPECS["sequence"]
    objective = build(spec, 16, {}, augment=_jitter)
    x = torch.randn(5, *spec.shape)
    assert objective.encoder_input(x, torch.arange(5)).shape == (10, *spec.shape)
    before, after = _train(spec, objective, _data(spec).unlabelled(), steps=30)
    assert after < before - 0.05, (before, after)
    with pytest.raises(ValueError, match="core_augmentations"):
        build(spec, 16, {})


def test_nt_xent_matches_a_direct_computation():
    torch.manual_seed(0)
    z1, z2, t = torch.randn(5, 4), torch.randn(5, 4), 0.3
    z = nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / t
    losses = []
    for i in range(10):
        partner = (i + 5) % 10
        others = [j for j in range(10) if j != i]
        losses.append(-sim[i, partner] + torch.logsumexp(sim[i, others], 0))
    assert torch.allclose(nt_xent_loss(z1, z2, t), torch.stack(losses).mean(), atol=1e-5)
    p = torch.randn(3, 4)
    assert torch.allclose(simsiam_loss(p, p, p, p), torch.tensor(-1.0))


def test_configs_reject_unknown_or_bad_parameters():
    spec = SPECS["sequence"]
    with pytest.raises(ValueError, match="unknown autoencoder parameter.*'nope'"):
        build_autoencoder(spec, 8, {"nope": 1})
    with pytest.raises(ValueError, match="temperature"):
        build_simclr(spec, 8, {"temperature": 0}, augment=_jitter)
    assert build_simclr(spec, 8, {"temperature": "0.2"}, augment=_jitter).config.temperature == 0.2
    with pytest.raises(ValueError, match="decoder"):
        build_autoencoder(spec, 8, {"decoder": "transformer"})


def test_builtins_register_the_baselines_and_supervised_needs_labels():
    specs = {s.name: s for s in builtins.core_objectives()}
    assert set(specs) == {"core/lfr", "core/autoencoder", "core/diet", "core/simclr", "core/simsiam",
                          "core/supervised"}
    assert specs["core/supervised"].needs_labels and not specs["core/diet"].needs_labels
    objective = specs["core/diet"].build(SPECS["vector"], 8, {}, projector=None, sample=None, seed=0, num_samples=7)
    assert objective.head.out_features == 7


class _FakePM:
    """Just enough of the plugin manager for runs' objective helpers."""

    def __init__(self, augmentations=(), objectives=()):
        self._aug = list(augmentations)
        self._obj = {s.name: s for s in objectives}

    def specs(self, kind):
        assert kind == "augmentation"
        return self._aug

    def get(self, kind, name):
        return self._obj[name]


def test_core_augmentations_are_composed_in_registration_order():
    from core import runs

    calls = []

    def make(tag):
        def build(spec):
            return lambda x: (calls.append(tag), x + 1)[1]
        return build

    pm = _FakePM([AugmentationSpec("p/a", make("a"), ("sequence",)), AugmentationSpec("p/img", make("img"), ("image",)),
                  AugmentationSpec("p/b", make("b"), ("sequence",))])
    augment = runs.augmentation_for(pm, SPECS["sequence"])
    assert augment.names == ("p/a", "p/b")
    assert torch.equal(augment(torch.zeros(2)), torch.full((2,), 2.0)) and calls == ["a", "b"]
    assert runs.augmentation_for(pm, SPECS["tokens"]) is None
    with pytest.raises(ValueError):
        AugmentationSpec("nonamespace", make("x"), ("sequence",))


def test_objective_context_gives_each_factory_only_what_it_accepts():
    from core import runs

    def lfr_like(input_spec, dim, params, *, projector, sample=None, seed=0):
        return "lfr"

    def wants_task(input_spec, dim, params, *, task=None, **_):
        return task

    aug = AugmentationSpec("p/jitter", lambda spec: _jitter, ("sequence",))
    pm = _FakePM([aug])
    task = Task("binary")
    assert runs.objective_context(pm, ObjectiveSpec("p/lfr", lfr_like), SPECS["sequence"], task, 10) == {}
    ctx = runs.objective_context(pm, ObjectiveSpec("p/sup", wants_task), SPECS["sequence"], task, 10)
    assert ctx["task"] is task and ctx["num_samples"] == 10 and ctx["augment"].names == ("p/jitter",)


def test_training_pool_is_the_train_split_for_objectives_that_need_labels():
    from core import runs
    from core.config import RunConfig

    splits = {s: _data(SPECS["vector"], n, y=np.arange(n) % 2) for s, n in
              (("pretrain", 20), ("train", 12), ("val", 4), ("test", 4))}
    data = LoadedDataset(splits, SPECS["vector"], Task("binary"))
    pm = _FakePM(objectives=[ObjectiveSpec("core/supervised", build_supervised, needs_labels=True),
                             ObjectiveSpec("core/diet", build_diet)])
    assert runs.training_pool(pm, RunConfig(objective="core/supervised"), data) is splits["train"]
    assert runs.training_pool(pm, RunConfig(objective="core/diet"), data) is splits["pretrain"]

