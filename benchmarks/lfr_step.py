"""LFR step cost on the ECG default (ECG5000 pool, TS-TCC CNN, K=6), side by side in one run.

(a) LFR encoder-phase step / supervised step of the same encoder and batch (goal <= 1.5);
(b) one outer epoch (1 encoder epoch + pred_epochs predictor epochs) of our schedule (cached
    targets, predictor phase on cached embeddings, stacked heads) vs a loop implementation of
    the released code's schedule (K separate modules, targets recomputed, encoder re-run in every
    predictor step) at the same hyperparameters (goal >= 2).

Usage: python benchmarks/lfr_step.py [--repeats 5] [--dim 128] [--batch 128]
Prints a markdown table; never asserts times.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn


def timed(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--pred-epochs", type=int, default=5)
    args = ap.parse_args()

    from core.data import ArrayDataset
    from core.objectives.lfr import build_lfr
    from core.objectives.reference import released_outer_epoch, unstack_bank, unstack_predictors
    from core.plugins import get_plugin_manager
    from core.training import make_loader

    torch.manual_seed(0)
    pm = get_plugin_manager()
    recipe = pm.recipe_for_plugin("ecg")
    data = pm.get("dataset", recipe.dataset).load(None, seed=0, on_bad_record="error", options={})
    pool: ArrayDataset = data.splits["pretrain"]
    spec, D, B, K = data.input_spec, args.dim, args.batch, args.k
    enc_spec, proj_spec = pm.get("encoder", recipe.encoder), pm.get("projector", recipe.projector)
    x_all = torch.from_numpy(pool.x)
    params = {"k": K, "pred_epochs": args.pred_epochs}

    def new_lfr(seed=0):
        torch.manual_seed(seed)
        encoder = enc_spec.build(spec, D)
        lfr = build_lfr(spec, D, params, lambda n, d: proj_spec.build(spec, n, d), sample=x_all[:256])
        lfr.prepare(encoder, make_loader(pool, 256), "cpu")
        return encoder, lfr

    # (a) one encoder-phase step vs one supervised step (same encoder, batch, optimiser)
    encoder, lfr = new_lfr()
    xb, idx = x_all[:B], torch.arange(B)
    yb = torch.from_numpy(data.splits["train"].targets[:B] % len(data.task.class_names)).long()
    head = nn.Linear(D, len(data.task.class_names))
    opt_sup = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=3e-4)
    opt_enc = torch.optim.Adam(encoder.parameters(), lr=3e-4)

    def supervised_step():
        loss = nn.functional.cross_entropy(head(encoder(xb)), yb)
        opt_sup.zero_grad()
        loss.backward()
        opt_sup.step()

    def lfr_step():
        loss = lfr.encoder_loss(encoder(xb), xb, idx)
        opt_enc.zero_grad()
        loss.backward()
        opt_enc.step()

    sup, step = [], []
    for _ in range(3):  # interleave to share the machine's noise
        sup.append(timed(supervised_step, args.repeats))
        step.append(timed(lfr_step, args.repeats))
    t_sup, t_lfr = statistics.median(sup), statistics.median(step)

    # (b) one outer epoch: ours vs the released loop schedule
    def ours_epoch():
        enc, obj = state["ours"]
        opt_e, opt_p = state["ours_opt"]
        enc.train()
        g = torch.Generator().manual_seed(0)
        for batch in torch.randperm(len(pool), generator=g).split(B):
            loss = obj.encoder_loss(enc(x_all[batch]), None, batch)
            opt_e.zero_grad()
            loss.backward()
            opt_e.step()
        enc.eval()
        with torch.no_grad():
            z = torch.cat([enc(c) for c in x_all.split(256)])
        enc.train()
        obj.inner_phase(z, torch.arange(len(pool)), opt_p, B, g)

    def released_epoch():
        enc, projectors, predictors, opt_e, opt_p = state["released"]
        g = torch.Generator().manual_seed(0)
        batches = [x_all[b] for b in torch.randperm(len(pool), generator=g).split(B)]
        released_outer_epoch(enc, projectors, predictors, batches, opt_e, opt_p, pred_epochs=args.pred_epochs)

    encoder, lfr = new_lfr()
    state = {"ours": (encoder, lfr),
             "ours_opt": (torch.optim.Adam(encoder.parameters(), lr=3e-4),
                          torch.optim.Adam(lfr.predictors.parameters(), lr=3e-4))}
    enc2, lfr2 = new_lfr()
    projectors, predictors = unstack_bank(lfr2.bank), unstack_predictors(lfr2.predictors)
    state["released"] = (enc2, projectors, predictors, torch.optim.Adam(enc2.parameters(), lr=3e-4),
                         torch.optim.Adam(predictors.parameters(), lr=3e-4))
    ours_t, rel_t = [], []
    for _ in range(2):
        ours_t.append(timed(ours_epoch, max(1, args.repeats // 2), warmup=1))
        rel_t.append(timed(released_epoch, max(1, args.repeats // 2), warmup=1))
    t_ours, t_rel = statistics.median(ours_t), statistics.median(rel_t)

    print(f"ECG default: encoder {recipe.encoder}, D={D}, K={K}, d={lfr.predictors.out_dim if hasattr(lfr.predictors, 'out_dim') else D}, "
          f"B={B}, pool={len(pool)}, pred_epochs={args.pred_epochs}, torch threads={torch.get_num_threads()}")
    print()
    print("| measurement | time (ms) | ratio | goal |")
    print("|---|---:|---:|---|")
    print(f"| supervised step (CE, same encoder) | {t_sup*1e3:.2f} | 1.00 | |")
    print(f"| LFR encoder-phase step | {t_lfr*1e3:.2f} | {t_lfr/t_sup:.2f} | (a) <= 1.5 |")
    print(f"| released loop outer epoch | {t_rel*1e3:.1f} | 1.00 | |")
    print(f"| our outer epoch (cached targets + cached embeddings) | {t_ours*1e3:.1f} | {t_rel/t_ours:.2f}x faster | (b) >= 2 |")


if __name__ == "__main__":
    main()
