"""core: augmentation-free self-supervised representation learning on scientific data.

Plugin authors import only :data:`hookimpl` and the spec types from here.
"""
from importlib.metadata import PackageNotFoundError, version as _version

import pluggy

try:
    __version__ = _version("core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("core")

from core.specs import (  # noqa: E402
    AugmentationSpec,
    DatasetSpec,
    EncoderSpec,
    EvaluatorSpec,
    InputSpec,
    LoadedDataset,
    ObjectiveSpec,
    ProjectorSpec,
    Recipe,
    Task,
)
from core.errors import UserError  # noqa: E402
from core.lazy import lazy  # noqa: E402

__all__ = [
    "__version__",
    "hookimpl",
    "AugmentationSpec",
    "DatasetSpec",
    "EncoderSpec",
    "EvaluatorSpec",
    "InputSpec",
    "LoadedDataset",
    "ObjectiveSpec",
    "ProjectorSpec",
    "Recipe",
    "Task",
    "UserError",
    "lazy",
]
