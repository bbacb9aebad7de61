"""Train/val/test splits: seeded random (stratified on class labels), or by k-mer identity clusters.

**Identity clusters** (``--split cluster``): two sequences are linked when they share at least a
fraction ``--cluster-threshold`` (default 0.5) of the distinct ``--kmer`` -mers (default 3) of the
shorter one, i.e. the containment |K(a) ∩ K(b)| / min(|K(a)|, |K(b)|) — a cheap alignment-free
stand-in for sequence identity in the spirit of CD-HIT's short-word filter (Li & Godzik 2006):
two sequences at identity p (independent point substitutions) share about p^k of their k-mers,
so k=3 and threshold 0.5 link pairs above roughly 80 % identity.
Clusters are the connected components of that graph (single linkage), so no pair of linked
sequences can straddle two splits. Whole clusters are assigned like chemprop's balanced scaffold
split: clusters larger than half of val or test go first (seeded order), then the rest (seeded
order); each goes to train while it fits, else val, else test.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


def sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    def size(f):
        k = int(round(f * n))
        return max(k, 1) if f > 0 and n >= 3 else k

    n_val, n_test = size(val_fraction), size(test_fraction)
    return n - n_val - n_test, n_val, n_test


def random_split(n: int, val_fraction: float, test_fraction: float, seed: int,
                 labels: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    """Seeded random split, stratified when ``labels`` are class ids with ≥ 3 members each."""
    from sklearn.model_selection import train_test_split

    n_train, n_val, n_test = sizes(n, val_fraction, test_fraction)
    index = np.arange(n)
    strat = None
    if labels is not None and labels.ndim == 1 and labels.dtype.kind in "iub":
        counts = np.unique(labels, return_counts=True)[1]
        if counts.min() >= 3 and n_val >= len(counts) and n_test >= len(counts):
            strat = labels
    if n_val + n_test == 0:
        return {"train": index, "val": index[:0], "test": index[:0]}
    rest, test = train_test_split(index, test_size=n_test, random_state=seed, stratify=strat) if n_test else (index, index[:0])
    strat_rest = None if strat is None else strat[rest]
    train, val = train_test_split(rest, test_size=n_val, random_state=seed + 1, stratify=strat_rest) if n_val \
        else (rest, rest[:0])
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def kmer_clusters(sequences: Sequence[str], k: int = 3, threshold: float = 0.5, chunk: int = 2048) -> np.ndarray:
    """Cluster label per sequence (module docstring): components of the k-mer containment graph.

    Sparse k-mer incidence matrix M (hashed k-mers), shared counts M·Mᵀ computed in row chunks
    so memory stays O(chunk · N). Sequences shorter than k form their own k-mer (the whole word).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    n = len(sequences)
    rows, cols, vocab = [], [], {}
    for i, s in enumerate(sequences):
        words = {s[j:j + k] for j in range(max(len(s) - k + 1, 1))}
        for w in words:
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, max(len(vocab), 1)))
    size = np.asarray(m.sum(1)).ravel()
    edges_r, edges_c = [], []
    mt = m.T.tocsr()
    for start in range(0, n, chunk):
        shared = (m[start:start + chunk] @ mt).tocoo()
        r, c, v = shared.row + start, shared.col, shared.data
        keep = (r < c) & (v >= threshold * np.minimum(size[r], size[c]) - 1e-6)
        edges_r.append(r[keep])
        edges_c.append(c[keep])
    r, c = np.concatenate(edges_r), np.concatenate(edges_c)
    graph = sparse.csr_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster_split(clusters: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Whole clusters to train/val/test (module docstring); sorted indices per split."""
    n = len(clusters)
    n_train, n_val, n_test = sizes(n, val_fraction, test_fraction)
    order = np.argsort(clusters, kind="stable")
    bounds = np.flatnonzero(np.diff(clusters[order])) + 1
    groups = np.split(order, bounds)
    big = [g for g in groups if len(g) > n_val / 2 or len(g) > n_test / 2]
    small = [g for g in groups if not (len(g) > n_val / 2 or len(g) > n_test / 2)]
    rng = np.random.default_rng(seed)
    ordered = [big[i] for i in rng.permutation(len(big))] + [small[i] for i in rng.permutation(len(small))]
    out = {s: [] for s in SPLIT_NAMES}
    count = dict.fromkeys(SPLIT_NAMES, 0)
    for g in ordered:
        where = "train" if count["train"] + len(g) <= n_train else ("val" if count["val"] + len(g) <= n_val else "test")
        out[where].append(g)
        count[where] += len(g)
    return {s: np.sort(np.concatenate(v)) if v else np.zeros(0, np.int64) for s, v in out.items()}
