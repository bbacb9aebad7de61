"""Choose the default recipe on the VALIDATION split only (the test split is never loaded here).

Each candidate runs the real `core run` machinery on protein/amp with the test split replaced by
val, and val replaced by 15 % of train (where the probes choose their regularisation):

    python plugins/protein/scripts/select_recipe.py --epochs 6 --encoder protein/cnn --projector protein/residue_conv
"""
import argparse
import json
import tempfile
from pathlib import Path

from core import runs
from core.plugins import get_plugin_manager

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--encoder", default="protein/cnn")
parser.add_argument("--projector", default="protein/residue_conv")
parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

original = runs.load_dataset


def val_as_test(pm, cfg, seed):
    data = original(pm, cfg, seed)
    import numpy as np

    train = data.splits["train"]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train))
    cut = int(0.15 * len(train))
    inner_val, inner_train = train.subset(np.sort(order[:cut])), train.subset(np.sort(order[cut:]))
    data.splits = {"pretrain": data.splits["pretrain"], "train": inner_train, "val": inner_val,
                   "test": data.splits["val"]}
    return data


runs.load_dataset = val_as_test
pm = get_plugin_manager()
params = {}
for kv in args.set:
    k, v = kv.split("=", 1)
    params[k] = float(v) if "." in v else int(v)
options = dict(kv.split("=", 1) for kv in args.option)
cfg = runs.resolve_config(pm, "protein", None, {}, {"epochs": args.epochs, "encoder": args.encoder,
                                                   "projector": args.projector, "objective_params": params,
                                                   "data_options": options, "progress": False, "seed": args.seed})
with tempfile.TemporaryDirectory() as tmp:
    out = runs.run_seed(pm, cfg, args.seed, Path(tmp), resume=False)
res = out["results"]
print(json.dumps({"encoder": args.encoder, "projector": args.projector, "epochs": args.epochs, "set": params,
                  "options": options, "train_seconds": out["train_seconds"],
                  **{m: {k: round(v, 4) for k, v in r.items() if k in ("linear/accuracy", "linear/auroc",
                                                                      "knn/accuracy")}
                     for m, r in res.items()}}))
