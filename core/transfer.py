"""``core evaluate RUN --data PATH``: probe a finished run's encoders on another labelled corpus.

Transfer is the point of pretraining: one encoder, pretrained once (possibly on a large
unlabelled corpus, ``--pretrain-data``), probed on any labelled corpus the plugin reads. Each
seed's encoder is probed on the new corpus exactly as ``core run`` probes its own data, with
both floors (the same architecture at that seed's random initialisation, and the raw
features), and the results go to a new folder ``RUN/transfer/<timestamp>-<corpus>/`` holding
``config.yaml``, ``metrics.json``, ``report.md`` with plots and ``skipped.csv``. Several corpora
can be probed from one run; the run's own files are never changed.
"""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path
from typing import Optional

import yaml

from core import runs
from core.errors import UserError
from core.io import atomic_save_npy, atomic_write_text, new_folder
from core.plugins import PluginManager

__all__ = ["evaluate_transfer", "seed_folders"]


def seed_folders(run_dir: Path, cfg) -> list:
    """``[(seed, folder)]`` of every seed of a run that has a trained encoder."""
    run_dir = Path(run_dir)
    out = []
    for i in range(int(cfg.seeds)):
        seed = int(cfg.seed) + i
        folder = run_dir if i == 0 else run_dir / f"seed-{seed}"
        if (folder / "encoder.safetensors").is_file():
            out.append((seed, folder))
    if not out:
        raise UserError(f"{run_dir}: no trained encoder (encoder.safetensors); finish the run with "
                        f"`core run --resume {run_dir}`")
    return out


def transfer_config(pm: PluginManager, run_dir: Path, data: str, options: dict, dataset: Optional[str],
                    on_bad_record: Optional[str], progress: Optional[bool]):
    """The run's settings with ``data`` (and its reader) replaced: what the probes read. The run's
    reader options apply to ``data`` too (they fix the input shape), updated by ``options``."""
    cfg = runs.load_run_config(run_dir)
    path = Path(data).expanduser().resolve()
    if not path.exists():
        raise UserError(f"--data {data}: no such file or folder; check the path")
    reader = pm.get("dataset", dataset).name if dataset else runs.files_dataset(pm, cfg)
    if pm.get("dataset", reader).embedded:
        raise UserError(f"--dataset {reader} is embedded and reads no files; pass the dataset that reads --data")
    values = {"dataset": reader, "data": str(path), "data_options": {**cfg.data_options, **dict(options)},
              "pretrain_data": None}
    if on_bad_record:
        values["on_bad_record"] = on_bad_record
    if progress is not None:
        values["progress"] = progress
    cfg.data_options = {}  # replaced by the run's options updated with the given ones
    return cfg.update(values, "command line")


def new_transfer_dir(run_dir: Path, data: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(run_dir) / "transfer" / f"{stamp}-{Path(data).name or 'data'}"
    try:
        return new_folder(base)
    except OSError as e:
        raise UserError(f"{run_dir}: cannot create {base} ({e.strerror or e}); the run folder must be writable") from None


def probe_seed(pm: PluginManager, cfg, seed: int, encoder_dir: Path, out_dir: Path) -> dict:
    """Probe one seed's encoder and both floors on ``cfg.data``; returns the seed's results."""
    from core.specs import InputSpec

    data = runs.load_dataset(pm, cfg, seed)
    encoder, card = runs.load_encoder(pm, encoder_dir)
    runs.check_same_inputs(data.input_spec, InputSpec.from_dict(card["input_spec"]), f"--data {cfg.data}",
                           f"the encoder of {encoder_dir} was trained on", cfg)
    if out_dir is not None:
        runs.write_skipped(out_dir, data.skipped)
    features = runs.encoder_features(encoder, data, cfg)
    results = {runs.PRETRAINED: runs.evaluate_features(pm, cfg, data, features, seed)}
    results.update(runs.floor_results(pm, cfg, data, seed))
    if out_dir is not None:
        import numpy as np

        atomic_save_npy(out_dir / "test_embedding.npy", features["test"])
        atomic_save_npy(out_dir / "test_labels.npy", np.asarray(data.splits["test"].targets))
    info = runs.dataset_info(data)
    info["encoder"] = str(encoder_dir)
    return {"seed": seed, "results": results, "history": pretraining_history(encoder_dir), "dataset": info,
            "primary_metric": data.task.primary_metric}


def pretraining_history(encoder_dir: Path) -> list:
    """The loss history of the seed's pretraining (its ``seed-metrics.json``), ``[]`` if unreadable."""
    import json

    try:
        history = json.loads((Path(encoder_dir) / "seed-metrics.json").read_text(encoding="utf-8")).get("history")
    except (OSError, ValueError, AttributeError):
        return []
    return history if isinstance(history, list) else []


def evaluate_transfer(run_dir: Path, data: str, options: Optional[dict] = None, dataset: Optional[str] = None,
                      on_bad_record: Optional[str] = None, progress: Optional[bool] = None,
                      pm: Optional[PluginManager] = None) -> tuple[Path, dict]:
    """Probe every seed's encoder of ``run_dir`` on the labelled corpus ``data`` (read by the
    run's file reader, or ``dataset``) with both floors; returns the new folder and its metrics.
    A failure removes the folder it created."""
    from core.plugins import get_plugin_manager
    from core.run_status import check_not_failed

    pm = pm or get_plugin_manager()
    run_dir = Path(run_dir)
    check_not_failed(run_dir)
    cfg = transfer_config(pm, run_dir, data, options or {}, dataset, on_bad_record, progress)
    seeds = seed_folders(run_dir, runs.load_run_config(run_dir))
    folder = new_transfer_dir(run_dir, data)
    try:
        atomic_write_text(folder / "config.yaml", yaml.safe_dump({**cfg.to_dict(), "encoders_of": str(run_dir)},
                                                                 sort_keys=False))
        per_seed = [probe_seed(pm, cfg, seed, encoder_dir, folder if i == 0 else None)
                    for i, (seed, encoder_dir) in enumerate(seeds)]
        metrics = runs.aggregate(cfg, folder, per_seed,
                                 title=f"transfer: {cfg.recipe} encoder of {run_dir.name} probed on {Path(cfg.data).name}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder, metrics
