"""Pretext objectives: plain torch modules, no Lightning import (``core.training`` wraps them).

An objective built by ``ObjectiveSpec.build(input_spec, dim, params)`` is an ``nn.Module``
with this protocol:

* ``prepare(encoder, loader, device)``: once before training (LFR caches its targets here);
  ``loader`` yields ``(x, y, index)`` over the whole pretrain pool in order.
* ``encoder_loss(z, x, index) -> Tensor``: the loss of one encoder-phase batch, ``z`` the
  encoder output ``(B, D)``.
* ``encoder_phase_parameters()``: objective parameters trained together with the encoder.
* ``inner_parameters()`` and ``inner_epochs``: parameters trained in an inner phase after each
  encoder epoch, on embeddings computed once with the encoder frozen.
* ``inner_phase(embeddings, index, optimizer, batch_size, generator[, targets]) -> float``: run
  ``inner_epochs`` epochs of that phase, return the mean loss.
* optional ``inner_sample_size``: the inner phase trains on a seeded subsample of this many
  pool samples per epoch (default: all); optional ``pool_targets(x)``: per-sample tensors the
  inner phase needs that are computed from the inputs along with the embeddings (LFR's
  targets when they are not cached), passed to ``inner_phase`` as ``targets``.
* optional ``encoder_input(x, index) -> x'``: what the encoder sees in the encoder phase
  (default: ``x``). SimCLR/SimSiam return two augmented views concatenated, so ``z`` is
  ``(2B, D)`` and one encoder forward serves both views.
* optional ``rank_checks() -> {name: hash}``: frozen state that must be identical on every
  rank under DDP (LFR: its projector bank); ``core.training`` records it per rank.

Every objective here derives from :class:`~core.objectives.base.Objective` (the defaults of
this protocol). A factory that wants a seeded batch of raw pretrain inputs (``sample``) of a
size other than 256 says so with ``ObjectiveSpec(sample_size=...)``.

Objectives here: :mod:`~core.objectives.lfr` (the core's pretext; its loss terms in
:mod:`~core.objectives.barlow`, run in torch or as the fused Triton kernel of
:mod:`~core.objectives.kernels` by :mod:`~core.objectives.target_loss`) and the baselines of
``core bench``: :mod:`~core.objectives.autoencoder`, :mod:`~core.objectives.diet`,
:mod:`~core.objectives.simclr`, :mod:`~core.objectives.simsiam` (these two need a plugin's
``core_augmentations``) and :mod:`~core.objectives.supervised` (labels of the train split;
its spec sets ``needs_labels``). Shared defaults: :mod:`~core.objectives.base`.
"""
