"""The plugin contract: flat hooks, each returning a list of specs (datasette style).

A plugin is a module with functions decorated by ``core.hookimpl`` and named like the hooks
below. It is found through the entry-point group ``core``::

    [project.entry-points.core]
    ecg = "core_ecg.plugin"

Entry-point modules must stay light: import torch, wfdb, rdkit... inside factories.
A plugin may declare ``CORE_REQUIRES = ">=0.1,<0.2"`` (a PEP 440 specifier on the host
version); an incompatible plugin is refused with a clear message.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("core")


@hookspec
def core_datasets():
    """Datasets this plugin provides.

    Returns:
        list[core.DatasetSpec]: each ``load(path, *, seed, on_bad_record, options)`` returns a
        :class:`core.LoadedDataset` with ``pretrain``/``train``/``val``/``test`` splits, an
        ``InputSpec`` and a ``Task``. ``path`` is the user's ``--data`` or ``None`` for an
        embedded default.
    """


@hookspec
def core_encoders():
    """Encoders this plugin provides.

    Returns:
        list[core.EncoderSpec]: each ``build(input_spec, dim)`` returns an ``nn.Module``
        mapping a batch shaped ``(B, *input_spec.shape)`` to ``(B, dim)``.
    """


@hookspec
def core_projectors():
    """Random projector families (LFR targets) this plugin provides.

    Returns:
        list[core.ProjectorSpec]: each ``build(input_spec, k, out_dim)`` returns a bank of
        ``k`` networks evaluated as one module, mapping a batch to ``(k, B, out_dim)``, whose
        parameters all carry a leading ``k`` axis (so the host can initialise and select).
    """


@hookspec
def core_objectives():
    """Pretext objectives (LFR, baselines, accelerated variants) this plugin provides.

    Returns:
        list[core.ObjectiveSpec]: each ``build(input_spec, dim, params, *, projector, sample, seed)``
        returns a plain torch objective following the protocol in :mod:`core.objectives`.
    """


@hookspec
def core_evaluators():
    """Frozen-embedding evaluators (probes) this plugin provides.

    Returns:
        list[core.EvaluatorSpec]: each ``evaluate(train, val, test, task, seed)`` returns a
        ``dict`` of metric name to float; regularisation is chosen on ``val`` only.
    """


@hookspec
def core_recipes():
    """Named default configurations. ``core run --plugin X`` runs the recipe ``X/default``.

    Returns:
        list[core.Recipe]: dataset, encoder, projector, objective, evaluators and parameter
        overrides (epochs, batch size, dim, ...).
    """


@hookspec
def core_augmentations():
    """Random data augmentations for a modality (optional; used only by augmentation-based
    baselines such as SimCLR and SimSiam in ``core bench``; LFR never augments).

    Returns:
        list[core.AugmentationSpec]: each ``build(input_spec)`` returns ``transform(x) -> x'``
        mapping a batch ``(B, *input_spec.shape)`` to a randomly transformed batch of the same
        shape (an independent draw per sample, from torch's global generator). All
        augmentations registered for the input's modality are applied in registration order.
    """


@hookspec
def core_cli(subparsers):
    """Add extra subcommands to the ``core`` CLI.

    Args:
        subparsers: the ``argparse`` sub-parser action of the ``core`` command. A plugin adds
            a parser and sets ``func=callable(args) -> int`` as its default.
    """
