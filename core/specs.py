"""Small frozen dataclasses exchanged between the host and plugins (docs/design.md#contract).

Every hook of :mod:`core.hookspecs` returns a list of these. Names are namespaced by
plugin (``"ecg/ecg5000"``, ``"core/lfr"``). Factories are plain callables so that
entry-point modules stay light: heavy imports happen inside the factory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    import torch.nn as nn

MODALITIES = ("vector", "sequence", "image", "tokens", "graph", "audio")
TASK_KINDS = ("multiclass", "multilabel", "binary", "regression")


def _check_name(name: str) -> None:
    if name.count("/") != 1 or not all(name.split("/")):
        raise ValueError(f"registered names are 'plugin/name', got {name!r}")


@dataclass(frozen=True)
class InputSpec:
    """What one sample looks like.

    ``shape`` is the per-sample shape without the batch axis: ``(F,)`` for vectors,
    ``(C, L)`` for sequences (channels first), ``(C, H, W)`` for images, ``(L,)`` for
    token ids (``vocab_size`` set, id 0 is padding).
    """

    modality: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    vocab_size: Optional[int] = None
    sample_rate: Optional[float] = None
    channel_names: tuple[str, ...] = ()

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "channel_names", tuple(self.channel_names))
        if self.modality == "tokens" and not self.vocab_size:
            raise ValueError("a 'tokens' input needs vocab_size")

    def to_dict(self) -> dict:
        return {
            "modality": self.modality,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "vocab_size": self.vocab_size,
            "sample_rate": self.sample_rate,
            "channel_names": list(self.channel_names),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "InputSpec":
        return cls(
            modality=d["modality"],
            shape=tuple(d["shape"]),
            dtype=d.get("dtype", "float32"),
            vocab_size=d.get("vocab_size"),
            sample_rate=d.get("sample_rate"),
            channel_names=tuple(d.get("channel_names") or ()),
        )


@dataclass(frozen=True)
class Task:
    """The downstream task the labels define.

    ``kind``: multiclass (y int in [0, C)), binary (y in {0, 1}), multilabel (y (N, C) in
    {0, 1}), regression (y float, (N,) or (N, T)). ``primary_metric`` names the metric the
    report leads with.
    """

    kind: str
    class_names: tuple[str, ...] = ()
    primary_metric: str = ""

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task kind must be one of {TASK_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if not self.primary_metric:
            default = {"multiclass": "accuracy", "binary": "auroc", "multilabel": "auroc",
                       "regression": "r2"}[self.kind]
            object.__setattr__(self, "primary_metric", default)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "class_names": list(self.class_names),
                "primary_metric": self.primary_metric}


@dataclass
class LoadedDataset:
    """What a dataset factory returns.

    ``splits`` maps ``pretrain`` (unlabelled pool), ``train``, ``val``, ``test`` to
    indexable datasets (see :class:`core.data.ArrayDataset` for the protocol: items are
    ``(x, y, index)``, attributes ``ids``, ``targets``, method ``raw_features()``).
    ``skipped`` lists ``(record, reason)`` pairs dropped under ``--on-bad-record skip``.
    ``failed`` optionally describes those records for ``core embed``, which writes each as a row
    with NaN embeddings: dicts with ``id`` and ``reason`` plus any of the splits' ``metadata()``
    columns (e.g. ``smiles``, ``input_index``).

    An unlabelled corpus (a factory called with ``unlabelled=True``) has ``task=None``, every
    record in ``pretrain`` and empty ``train``/``val``/``test``: build it with
    :func:`core.data.unlabelled_corpus`.
    """

    splits: dict
    input_spec: InputSpec
    task: Optional[Task]
    name: str = ""
    source: str = ""
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)

    def __post_init__(self):
        missing = {"pretrain", "train", "val", "test"} - set(self.splits)
        if missing:
            raise ValueError(f"dataset {self.name!r} lacks splits {sorted(missing)}")


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset. ``load(path, *, seed, on_bad_record, options) -> LoadedDataset``.

    ``path`` is ``None`` for an embedded default, else the user's ``--data PATH``.
    ``on_bad_record`` is ``"error"`` or ``"skip"``; ``options`` holds reader flags.
    A factory that can read corpora without labels (``--pretrain-data PATH``) also accepts the
    keyword ``unlabelled=True``: labels are then neither needed nor read, options about labels
    and splits are ignored, and every readable record goes to the ``pretrain`` pool
    (:func:`core.data.unlabelled_corpus`). The keyword is only passed when true.

    ``stream`` (optional) reads a corpus larger than RAM for ``core prepare``:
    ``stream(path, *, on_bad_record, options[, unlabelled=True]) -> core.shards.CorpusStream``
    (InputSpec and Task fixed up front, picklable work units and a record-by-record reader).
    ``shard_split`` (optional, with ``stream`` when records are not fixed-shape numeric arrays):
    ``shard_split(records, positions, ids, targets, input_spec, meta) -> split``, the plugin's
    split over stored records read lazily (:class:`core.shards.ShardRecords`; ``positions``
    the split's global positions, ``targets`` None when unlabelled, ``meta`` the shards'
    metadata). Without it, stored records are float32 arrays normalised per channel on read.
    """

    name: str
    load: Callable[..., LoadedDataset]
    description: str = ""
    modality: str = ""
    embedded: bool = False
    stream: Optional[Callable[..., Any]] = None
    shard_split: Optional[Callable[..., Any]] = None

    def __post_init__(self):
        _check_name(self.name)


@dataclass(frozen=True)
class EncoderSpec:
    """A named encoder. ``build(input_spec, dim) -> nn.Module`` mapping a batch to ``(B, dim)``."""

    name: str
    build: Callable[[InputSpec, int], "nn.Module"]
    modalities: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        _check_name(self.name)


@dataclass(frozen=True)
class ProjectorSpec:
    """A named family of random projector banks.

    ``build(input_spec, k, out_dim) -> bank``: a module holding ``k`` networks whose
    parameters all carry a leading ``k`` axis, mapping a batch to ``(k, B, out_dim)``
    (see :mod:`core.projectors`). The host seeds, initialises, selects and freezes it.
    """

    name: str
    build: Callable[[InputSpec, int, int], "nn.Module"]
    modalities: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        _check_name(self.name)


@dataclass(frozen=True)
class ObjectiveSpec:
    """A named pretext objective (plain torch; protocol in :mod:`core.objectives`).

    ``build(input_spec, dim, params, *, projector, sample, seed) -> objective``: ``params`` are
    the run's ``objective_params``; ``projector`` the chosen :class:`ProjectorSpec` (for
    objectives that need random targets), ``sample`` a seeded batch of raw pretrain inputs.
    A factory that accepts them (by name, or ``**kwargs``) also gets ``num_samples`` (size of
    the pool it trains on, e.g. DIET's number of classes), ``task`` (the dataset's
    :class:`Task`) and ``augment`` (the registered augmentations for the input modality,
    composed, or ``None``; see :class:`AugmentationSpec`).

    ``needs_labels``: the objective learns from labels (the supervised reference). It then
    trains on the labelled ``train`` split instead of the unlabelled ``pretrain`` pool, and its
    ``prepare`` reads the labels as the loader's ``y``. ``modalities``: the input kinds it
    supports (empty: any), as for encoders. ``sample_size``: how many raw pretrain inputs
    ``sample`` holds, an int or ``params -> int`` (LFR: its ``dpp_sample``).
    """

    name: str
    build: Callable[..., Any]
    description: str = ""
    needs_labels: bool = False
    modalities: tuple[str, ...] = ()
    sample_size: "int | Callable[[Mapping], int]" = 256

    def __post_init__(self):
        _check_name(self.name)
        object.__setattr__(self, "modalities", tuple(self.modalities))


@dataclass(frozen=True)
class AugmentationSpec:
    """A named random data augmentation (used by augmentation-based baselines: SimCLR, SimSiam).

    ``build(input_spec) -> transform``: ``transform(x) -> x'`` maps a batch ``(B, *shape)`` on
    any device to a randomly transformed batch of the same shape and dtype, drawing an
    independent transformation per sample from torch's global generator (seeded per run).
    Every augmentation registered for a modality is applied, composed in registration order.
    """

    name: str
    build: Callable[[InputSpec], Callable]
    modalities: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        _check_name(self.name)
        object.__setattr__(self, "modalities", tuple(self.modalities))


@dataclass(frozen=True)
class EvaluatorSpec:
    """A named frozen-embedding evaluator.

    ``evaluate(train, val, test, task, seed) -> dict[str, float]`` where each split is a
    pair ``(X: ndarray (N, D), y: ndarray)`` (``val`` may be empty); hyper-parameters are
    never chosen on ``test`` (on ``val``, or by CV over train+val with few labels). It may
    return a :class:`core.metrics.Scores` whose ``protocol`` says how they were chosen (shown
    in the report). A run skips an evaluator whose ``tasks`` lack the task kind or whose
    ``modalities`` (empty: any) lack the input's modality.
    """

    name: str
    evaluate: Callable[..., dict]
    tasks: tuple[str, ...] = ("multiclass", "multilabel", "binary", "regression")
    description: str = ""
    modalities: tuple[str, ...] = ()

    def __post_init__(self):
        _check_name(self.name)
        object.__setattr__(self, "modalities", tuple(self.modalities))


@dataclass(frozen=True)
class Recipe:
    """A named default configuration: ``core run --plugin X`` runs X's recipe ``X/default``.

    ``params`` overrides :class:`core.config.RunConfig` fields (epochs, batch_size, dim, ...).
    ``data_dataset`` is the dataset used when the user passes ``--data PATH``.
    ``evaluators``: a run skips those that do not fit its task or input modality (the default
    ``core/svm`` probes sequence inputs only).
    """

    name: str
    dataset: str
    encoder: str
    projector: str
    objective: str = "core/lfr"
    evaluators: tuple[str, ...] = ("core/linear", "core/knn", "core/svm")
    data_dataset: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        _check_name(self.name)
        object.__setattr__(self, "evaluators", tuple(self.evaluators))
        object.__setattr__(self, "params", dict(self.params))


SPEC_KINDS: dict[str, type] = {
    "dataset": DatasetSpec,
    "encoder": EncoderSpec,
    "projector": ProjectorSpec,
    "objective": ObjectiveSpec,
    "evaluator": EvaluatorSpec,
    "recipe": Recipe,
    "augmentation": AugmentationSpec,
}
