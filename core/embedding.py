"""``core embed``: embed a corpus with a run's trained encoder and write npy/npz/parquet."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import UserError
from core.io import atomic_save_npy, atomic_write_text, atomic_write_with

FORMATS = (".npy", ".npz", ".parquet")


def _data_spec(pm, cfg):
    spec = pm.get("dataset", cfg.dataset)
    if not spec.embedded:
        return spec
    recipe = pm.get("recipe", cfg.recipe)
    if not recipe.data_dataset:
        raise UserError(f"recipe {recipe.name} has no reader for --data; this run's encoder cannot embed files")
    return pm.get("dataset", recipe.data_dataset)


def embed_to_file(run_dir: Path, data_path: str, out: Path, options: dict | None = None,
                  on_bad_record: str = "error") -> int:
    """Embed every record of ``data_path`` (all splits, each once); returns the number written.

    Writes ``.npy`` (embeddings, plus ``<out>.ids.csv`` with id and split), ``.npz`` (arrays
    ``embeddings``, ``ids``, ``split``) or ``.parquet`` (columns ``id``, ``split``, ``e0..``).
    """
    from core import runs
    from core.plugins import get_plugin_manager

    out = Path(out)
    if out.suffix not in FORMATS:
        raise UserError(f"--out {out}: unknown format '{out.suffix}'; use one of {', '.join(FORMATS)}")
    if not Path(data_path).exists():
        raise UserError(f"--data {data_path}: no such file or folder; check the path")
    pm = get_plugin_manager()
    cfg = runs.load_run_config(run_dir)
    encoder, card = runs.load_encoder(pm, run_dir)
    spec = _data_spec(pm, cfg)
    data = spec.load(str(Path(data_path).resolve()), seed=card["seed"], on_bad_record=on_bad_record,
                     options={**cfg.data_options, **(options or {})})
    expected = tuple(card["input_spec"]["shape"])
    if tuple(data.input_spec.shape) != expected:
        raise UserError(f"--data {data_path}: samples are shaped {tuple(data.input_spec.shape)} but the encoder "
                        f"expects {expected}; pass reader options (e.g. --option length=.. --option fs=..)")
    chunks, ids, split = [], [], []
    for name in ("train", "val", "test"):
        ds = data.splits[name]
        if len(ds):
            chunks.append(runs.embed_split(encoder, ds, "cpu", cfg.progress, name))
            ids += list(ds.ids)
            split += [name] * len(ds)
    emb = np.concatenate(chunks).astype(np.float32)
    if out.suffix == ".npy":
        atomic_save_npy(out, emb)
        atomic_write_text(out.with_suffix(".ids.csv"), "id,split\n" + "".join(f"{i},{s}\n" for i, s in zip(ids, split)))
    elif out.suffix == ".npz":
        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez_compressed(f, embeddings=emb, ids=np.array(ids), split=np.array(split))

        atomic_write_with(out, write)
    else:
        import pandas as pd

        frame = pd.DataFrame(emb, columns=[f"e{i}" for i in range(emb.shape[1])])
        frame.insert(0, "split", split)
        frame.insert(0, "id", ids)
        atomic_write_with(out, lambda tmp: frame.to_parquet(tmp, index=False))
    return len(ids)
