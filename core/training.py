"""Lightning glue: wraps an encoder and a plain-torch objective into a trainable module.

Schedule (Sui et al. 2023, LFR): each outer epoch is one encoder epoch with the objective's
inner parameters (LFR predictors) frozen, then ``inner_epochs`` of the inner phase run on
embeddings computed ONCE with the frozen encoder (not repeated encoder passes). Under DDP the
pool is embedded in shards and all-gathered; every rank then runs the same seeded inner phase,
so inner parameters stay identical without communication.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Optional

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from core.config import RunConfig
from core.errors import UserError


def collate_fn_of(dataset):
    """The split's ``collate_fn`` (looked up through ``torch.utils.data.Subset`` wrappers), or None."""
    while dataset is not None:
        fn = getattr(dataset, "collate_fn", None)
        if fn is not None:
            return fn
        dataset = getattr(dataset, "dataset", None) if isinstance(dataset, Subset) else None
    return None


def make_loader(dataset, batch_size: int, shuffle: bool = False, num_workers: int = 0, drop_last=False):
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      collate_fn=collate_fn_of(dataset), drop_last=drop_last,
                      persistent_workers=num_workers > 0)


class ResumableLoader(DataLoader):
    """The encoder phase's loader over an :class:`core.sampling.EpochSampler`. Lightning saves
    its ``state_dict`` in checkpoints and gives it back when a run restarts mid-epoch, so the
    resumed epoch reads only the positions the interrupted one had not (``consumed`` is set by
    :class:`PretextModule` after each step; prefetched batches are not counted)."""

    def __init__(self, dataset, sampler, batch_size: int, num_workers: int, drop_last: bool, seed: int):
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                         collate_fn=collate_fn_of(dataset), drop_last=drop_last, persistent_workers=num_workers > 0,
                         generator=torch.Generator().manual_seed(int(seed)))  # worker seeds: not the global RNG
        self.consumed = 0

    def state_dict(self) -> dict:
        return {"epoch": int(self.sampler.epoch), "consumed": int(self.consumed)}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.resume(int(state["epoch"]), int(state["consumed"]))


def _to_device(x, device):
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if hasattr(x, "to"):
        return x.to(device)
    return x


@torch.no_grad()
def embed(encoder: torch.nn.Module, dataset, batch_size: Optional[int] = None, device=None, progress: bool = False,
          desc: str = "embedding") -> np.ndarray:
    """Encoder outputs for every sample of ``dataset`` in order, in eval mode, as float32 numpy
    (``batch_size`` default: :func:`budget_batch_size`)."""
    device = device or next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    out = []
    loader = make_loader(dataset, batch_size or budget_batch_size(dataset))
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, desc=desc, leave=False)
    for x, _, _ in loader:
        out.append(encoder(_to_device(x, device)).float().cpu())
    encoder.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


@torch.no_grad()
def embed_with_targets(encoder: torch.nn.Module, dataset, device, target_fn=None,
                       batch_size: Optional[int] = None) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``(z (N, D), targets (N, ...) or None)`` on ``device`` for every sample of ``dataset`` in
    order, the encoder in eval mode; ``target_fn(x)`` (an objective's ``pool_targets``) is
    applied to the same input batches when given and not returning None."""
    was_training = encoder.training
    encoder.eval()
    zs, ts = [], []
    for x, _, _ in make_loader(dataset, batch_size or budget_batch_size(dataset)):
        x = _to_device(x, device)
        zs.append(encoder(x).float())
        t = target_fn(x) if target_fn is not None else None
        if t is not None:
            ts.append(t)
    encoder.train(was_training)
    z = torch.cat(zs) if zs else torch.zeros(0, 0, device=device)
    return z, (torch.cat(ts) if ts else None)


PASS_BUDGET_BYTES = 16 * 2 ** 20  # raw inputs per batch of a no-gradient pass over a pool
PASS_BATCH = 256  # ... and its batch when inputs are small


def budget_batch_size(dataset) -> int:
    """Batch of a no-gradient pass (embedding, an objective's ``prepare``): :data:`PASS_BATCH`, or
    fewer when that many inputs would exceed :data:`PASS_BUDGET_BYTES` (long records: a 12 × 5000
    ECG is 240 kB, its 32-channel conv output 640 kB: 256 of them hold 164 MB per layer)."""
    first = dataset[0][0] if len(dataset) else None
    per_sample = int(first.numel()) * first.element_size() if isinstance(first, torch.Tensor) else 0
    return max(1, min(PASS_BATCH, PASS_BUDGET_BYTES // per_sample)) if per_sample else PASS_BATCH


def prepare_batch_size(dataset, batch_size: int) -> int:
    """Batch of the objective's ``prepare`` pass (LFR's target cache): :func:`budget_batch_size`,
    never under the training batch."""
    return max(batch_size, budget_batch_size(dataset))


def _parameters_only(module: torch.nn.Module) -> torch.nn.Module:
    holder = torch.nn.Module()
    for i, (name, p) in enumerate(module.named_parameters()):
        holder.register_parameter(f"{i:04d}_{name.replace('.', '_')}", p)
    return holder


class PretextModule(L.LightningModule):
    """An encoder trained by a pretext objective (manual optimisation, two optimisers)."""

    def __init__(self, encoder: torch.nn.Module, objective: torch.nn.Module, pretrain, cfg: RunConfig):
        super().__init__()
        self.encoder = encoder
        self.objective = objective
        self.pretrain = pretrain
        self.cfg = cfg
        self.automatic_optimization = False
        self.history: list[dict] = []
        self.checkpoint_path: Optional[Path] = None
        self._loader: Optional[ResumableLoader] = None
        self._epoch_loss, self._epoch_count = torch.zeros(()), 0
        for p in objective.inner_parameters():
            p.requires_grad_(False)  # frozen outside the inner phase; DDP never tracks them

    def forward(self, x):
        return self.encoder(x)

    def optimised_groups(self) -> list[list]:
        """The parameters each optimiser updates: the encoder phase's (encoder and the objective's
        own), then the inner phase's when the objective has one."""
        enc = list(self.encoder.parameters()) + list(self.objective.encoder_phase_parameters())
        inner = list(self.objective.inner_parameters())
        return [enc, inner] if inner else [enc]

    def configure_optimizers(self):
        return [adam(group, self.cfg) for group in self.optimised_groups()]

    def train_dataloader(self):
        from core.sampling import EpochSampler

        world = self.trainer.world_size
        sampler = EpochSampler(self.pretrain, seed=self.cfg.seed, rank=self.global_rank, world_size=world)
        sampler.set_epoch(self.current_epoch)  # Lightning may open the loader before it sets the epoch
        self._loader = ResumableLoader(self.pretrain, sampler, self.cfg.batch_size, self.cfg.num_workers,
                                       drop_last=len(sampler) > self.cfg.batch_size, seed=self.cfg.seed)
        return self._loader

    def on_fit_start(self):
        loader = make_loader(self.pretrain, prepare_batch_size(self.pretrain, self.cfg.batch_size))
        self.objective.prepare(self.encoder, loader, self.device)
        states, self._resumed_rng = getattr(self, "_resumed_rng", None), None
        if states is not None:  # here, not at load time: caching targets draws loader seeds
            set_rng_states(states)

    def _optimizers(self):
        opts = self.optimizers()
        return opts if isinstance(opts, list) else [opts]

    def training_step(self, batch, batch_idx):
        x, _, index = batch
        opt = self._optimizers()[0]
        encoder_input = getattr(self.objective, "encoder_input", None)  # e.g. augmented views
        loss = self.objective.encoder_loss(self.encoder(encoder_input(x, index) if encoder_input else x), x, index)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        self.log("encoder_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=len(index))
        self._epoch_loss = self._epoch_loss + loss.detach().float() * len(index)
        self._epoch_count += len(index)
        return loss

    def on_train_epoch_start(self):  # not called when a run restarts mid-epoch: the sums come from the checkpoint
        self._epoch_loss, self._epoch_count = torch.zeros((), dtype=torch.float32, device=self.device), 0

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self._loader is not None:
            self._loader.consumed = (batch_idx + 1) * self.cfg.batch_size
        if self.checkpoint_path is not None and batch_idx + 1 < self.trainer.num_training_batches \
                and self._checkpoint_due_mid_epoch():
            self._save_atomically(self.checkpoint_path)
            self._saved_at = time.monotonic()

    def _epoch_mean_loss(self) -> Optional[float]:
        """This epoch's mean encoder loss over every rank's samples (None before any step)."""
        total = torch.stack([self._epoch_loss.to(self.device),
                             torch.tensor(float(self._epoch_count), dtype=torch.float32, device=self.device)])
        if self.trainer.world_size > 1:
            total = self.trainer.strategy.reduce(total, reduce_op="sum")
        return float(total[0] / total[1]) if float(total[1]) > 0 else None

    def _inner_sample(self) -> np.ndarray:
        """Pool positions the predictor phase trains on this epoch: all of them, or a seeded
        subsample of ``objective.inner_sample_size`` (the same on every rank), sorted."""
        n = len(self.pretrain)
        m = getattr(self.objective, "inner_sample_size", None)
        if m is None or n <= m:
            return np.arange(n)
        rng = np.random.default_rng([int(self.cfg.seed), int(self.current_epoch), 0x5A17])
        return np.sort(rng.choice(n, size=int(m), replace=False))

    def _embed_pool(self) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Embeddings (and, when the objective does not cache them, targets) of the predictor
        phase's samples (:meth:`_inner_sample`), sharded over ranks (contiguous blocks: each rank
        reads its own stretch of a streamed pool) then all-gathered."""
        sample, world, rank = self._inner_sample(), self.trainer.world_size, self.global_rank
        shard = np.array_split(sample, world)[rank].tolist()
        per_rank = -(-len(sample) // world)
        z, t = embed_with_targets(self.encoder, Subset(self.pretrain, shard), self.device,
                                  getattr(self.objective, "pool_targets", None))
        index = torch.tensor(shard, device=self.device, dtype=torch.long)
        if world == 1:
            return z, index, t
        pad = per_rank - len(shard)
        z = torch.cat([z, z.new_zeros(pad, z.shape[1])])
        index = torch.cat([index, index.new_full((pad,), -1)])
        z, index = self.all_gather(z).flatten(0, 1), self.all_gather(index).flatten(0, 1)
        if t is not None:
            t = self.all_gather(torch.cat([t, t.new_zeros(pad, *t.shape[1:])])).flatten(0, 1)
        keep = index >= 0
        return z[keep], index[keep], (t[keep] if t is not None else None)

    def on_train_epoch_end(self):
        row = {"epoch": int(self.current_epoch)}
        enc = self._epoch_mean_loss()
        if enc is not None:
            row["encoder_loss"] = enc
        if self.objective.inner_epochs > 0:
            z, index, targets = self._embed_pool()
            generator = torch.Generator().manual_seed(self.cfg.seed * 100003 + int(self.current_epoch))
            inner_opt = self._optimizers()[1].optimizer
            extra = {"targets": targets} if targets is not None else {}
            row["predictor_loss"] = float(self.objective.inner_phase(z, index, inner_opt, self.cfg.batch_size,
                                                                     generator, **extra))
            self.log("predictor_loss", row["predictor_loss"], prog_bar=True, rank_zero_only=True)
        self.history.append(row)
        if self.checkpoint_path is not None and self._checkpoint_due():
            self._save_atomically(self.checkpoint_path)
            self._saved_at = time.monotonic()

    def on_train_start(self):
        self._saved_at = time.monotonic()

    def _checkpoint_due_mid_epoch(self) -> bool:
        """Whether ``last.ckpt`` is written after this encoder step: every ``checkpoint_steps``
        steps, or ``checkpoint_minutes`` after the last write (looked at every step in one process,
        every :data:`TIME_CHECK_STEPS` under several, where rank 0 decides for all)."""
        cfg, step = self.cfg, int(self.global_step)
        if cfg.checkpoint_steps is not None and step % int(cfg.checkpoint_steps) == 0:
            return True
        minutes = cfg.checkpoint_minutes
        if not minutes:  # None: never on time; 0: at every epoch end only
            return False
        world = self.trainer.world_size
        if world > 1 and step % TIME_CHECK_STEPS:
            return False
        timed = time.monotonic() - getattr(self, "_saved_at", 0.0) >= float(minutes) * 60
        return bool(self.trainer.strategy.broadcast(timed)) if world > 1 else timed

    def _checkpoint_due(self) -> bool:
        """Whether this epoch's end writes ``last.ckpt``: the last epoch (or a stop), every
        ``checkpoint_epochs`` epochs, or ``checkpoint_minutes`` after the last write (0: every
        epoch). Rank 0 decides for every rank (clocks differ)."""
        cfg, epoch = self.cfg, int(self.current_epoch) + 1
        last = self.trainer.should_stop or (self.trainer.max_epochs is not None and epoch >= self.trainer.max_epochs)
        every = cfg.checkpoint_epochs is not None and epoch % int(cfg.checkpoint_epochs) == 0
        minutes = cfg.checkpoint_minutes
        timed = minutes is not None and time.monotonic() - getattr(self, "_saved_at", 0.0) >= float(minutes) * 60
        return bool(self.trainer.strategy.broadcast(bool(last or every or timed)))

    def _save_atomically(self, path: Path) -> None:
        """Write ``path`` through the trainer's checkpoint IO (:func:`checkpoint_io`: a copy taken
        here, written and renamed into place in the background)."""
        try:
            self.trainer.save_checkpoint(path, weights_only=False)
        except OSError as e:
            from core.io import cannot_write

            raise cannot_write(path, e) from None
        self.trainer.strategy.barrier()

    def on_fit_end(self):
        """Under several processes, each rank records hashes of what must be identical everywhere."""
        if self.trainer.world_size > 1 and self.checkpoint_path is not None:
            from core.io import atomic_write_json
            from core.projectors import bank_hash

            # parameters only: BatchNorm running statistics legitimately differ per rank
            hashes = {"encoder": bank_hash(_parameters_only(self.encoder)),
                      "objective": bank_hash(_parameters_only(self.objective))}
            hashes.update(getattr(self.objective, "rank_checks", dict)())  # e.g. LFR's frozen projector bank
            atomic_write_json(self.checkpoint_path.parent / "ranks" / f"rank{self.global_rank}.json", hashes)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["core_history"] = list(self.history)
        checkpoint["core_rng"] = rng_states()  # a resumed run draws the same shuffles and dropout
        checkpoint["core_epoch_loss"] = [float(self._epoch_loss), int(self._epoch_count)]

    def on_load_checkpoint(self, checkpoint):
        self.history = list(checkpoint.get("core_history", []))
        self._resumed_rng = checkpoint.get("core_rng")  # restored at the end of on_fit_start
        loss, count = checkpoint.get("core_epoch_loss", [0.0, 0])
        self._epoch_loss, self._epoch_count = torch.tensor(loss, dtype=torch.float32, device=self.device), int(count)


def rng_states() -> dict:
    """The random states a training epoch draws from (torch CPU and CUDA, numpy, Python), as
    tensors and plain Python values (checkpoints load with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {"torch": torch.get_rng_state(), "python": random.getstate(),
              "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Restore what :func:`rng_states` returned (CUDA states only where the devices match)."""
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(states["python"])
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


TIME_CHECK_STEPS = 50  # under several processes, mid-epoch checkpoint time is looked at this often


SHARDING_STRATEGIES = ("fsdp", "deepspeed", "xla", "single_xla", "single_tpu")  # keep torch's default Adam there


def shards_tensors(cfg: RunConfig) -> bool:
    """Whether the run's strategy splits parameters and optimiser state over ranks (FSDP,
    DeepSpeed, XLA): no fused Adam and no background checkpoint copy there."""
    return isinstance(cfg.strategy, str) and cfg.strategy.startswith(SHARDING_STRATEGIES)


def adam(params: list, cfg: RunConfig) -> torch.optim.Optimizer:
    """Adam at ``cfg.lr`` / ``cfg.weight_decay``; the fused kernel (one pass over each tensor, no
    per-step temporaries) where torch has it for every parameter's device and dtype and the
    strategy keeps plain tensors; torch's default implementation otherwise. Same update rule."""
    fused = bool(params) and not shards_tensors(cfg) and all(
        type(p) in (torch.Tensor, torch.nn.Parameter) and p.is_floating_point() and p.device.type in ("cpu", "cuda")
        for p in params)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)


def checkpoint_io(cfg: RunConfig):
    """Checkpoints written atomically (a temporary file renamed into place, so a crash never
    leaves a half-written ``last.ckpt``) and, where the strategy keeps whole tensors, in a
    background thread (Lightning's ``AsyncCheckpointIO``: the state is copied on the training
    thread, then serialised and written while training goes on; the next write or the end of
    training waits for it and raises its error)."""
    from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
    from lightning.pytorch.plugins.io import AsyncCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            from core.io import cannot_write

            path = Path(path)
            tmp = path.with_name(f".{path.name}.tmp")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(checkpoint, tmp)
                os.replace(tmp, path)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                raise cannot_write(path, e) from None

    io = AtomicCheckpointIO()
    return io if shards_tensors(cfg) else AsyncCheckpointIO(io)


def fit(module: PretextModule, cfg: RunConfig, run_dir: Path, resume: bool = False) -> PretextModule:
    """Train ``module`` for ``cfg.epochs`` outer epochs (or until ``cfg.max_minutes`` of wall time),
    checkpointing to ``run_dir/last.ckpt``."""
    from lightning.pytorch.accelerators import CPUAccelerator
    from lightning.pytorch.loggers import CSVLogger

    run_dir = Path(run_dir)
    module.checkpoint_path = run_dir / "last.ckpt"
    strategy = cfg.strategy
    if strategy == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        strategy = DDPStrategy(process_group_backend="gloo" if cfg.accelerator == "cpu" or not torch.cuda.is_available() else None)
    trainer = L.Trainer(
        max_epochs=cfg.epochs,
        max_time={"seconds": float(cfg.max_minutes) * 60} if cfg.max_minutes else None,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=strategy,
        precision=cfg.precision,
        logger=CSVLogger(str(run_dir), name="logs", version=""),
        enable_checkpointing=False,
        enable_progress_bar=cfg.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # EpochSampler splits the pool over ranks itself
        deterministic=False,
        log_every_n_steps=1,
        plugins=[checkpoint_io(cfg)],
    )
    ckpt = str(module.checkpoint_path) if resume and module.checkpoint_path.exists() else None
    if ckpt:
        check_checkpoint(module.checkpoint_path)
    if isinstance(trainer.accelerator, CPUAccelerator):
        check_fits_in_memory(module)
    trainer.fit(module, ckpt_path=ckpt)
    return module


def check_fits_in_memory(module: PretextModule) -> None:
    """One line (:func:`core.host_memory.check_fits`) when the module's training state cannot
    fit in this host's memory: CPU runs only (a GPU's own out-of-memory error names the device
    and comes at once, not after an epoch)."""
    from core.host_memory import check_fits

    encoder = {id(p) for p in module.encoder.parameters()}
    optimised = [p for group in module.optimised_groups() for p in group]
    check_fits({"encoder": [p for p in optimised if id(p) in encoder],
                f"{type(module.objective).__name__} objective": [p for p in optimised if id(p) not in encoder]})


def check_checkpoint(path: Path) -> None:
    """``path`` is a whole checkpoint (torch's zip container, every member's CRC intact); a
    truncated or garbled one is a one-line user error saying how to go on."""
    import zipfile

    fix = ("it is damaged (e.g. the disk filled up or a copy was cut short); delete it to train this "
           "run again from the start with --resume, or restore it from a backup")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e}); check permissions") from None
    except (zipfile.BadZipFile, EOFError, ValueError, RuntimeError) as e:
        raise UserError(f"{path}: not a readable checkpoint ({e}); {fix}") from None
    if bad is not None or not any(n.endswith("data.pkl") for n in names):
        raise UserError(f"{path}: not a readable checkpoint (member {bad or 'data.pkl'} is damaged or missing); {fix}")
