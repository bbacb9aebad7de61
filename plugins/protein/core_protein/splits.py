"""The protein split policy (``--split``), built on :mod:`core.splits`: seeded random (stratified
on class labels, :func:`core.splits.random_split`) or by k-mer identity clusters.

**Identity clusters** (``--split cluster``): two sequences are linked when they share at least a
fraction ``--cluster-threshold`` (default 0.5) of the distinct ``--kmer`` -mers (default 3) of the
shorter one, i.e. the containment |K(a) ∩ K(b)| / min(|K(a)|, |K(b)|) — a cheap alignment-free
stand-in for sequence identity in the spirit of CD-HIT's short-word filter (Li & Godzik 2006):
two sequences at identity p (independent point substitutions) share about p^k of their k-mers,
so k=3 and threshold 0.5 link pairs above roughly 80 % identity.
Clusters are the connected components of that graph (single linkage), so no pair of linked
sequences can straddle two splits. Whole clusters are assigned by chemprop's balanced scaffold
split (:func:`core.splits.balanced_group_split`).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from core.errors import UserError
from core.splits import SPLITS, balanced_group_split, random_split
from core_protein.alphabet import decode
from core_protein.options import Options


def assign_splits(tokens: Sequence[np.ndarray], labels: Optional[np.ndarray], opts: Options, seed: int,
                  source: str) -> tuple[dict[str, np.ndarray], Optional[np.ndarray], str]:
    """``(sorted indices per split, cluster per sequence or None, how it was split)`` for the
    encoded sequences ``tokens``; the random split is stratified on ``labels`` when they are
    class ids (regression values and ``None`` are not)."""
    if opts.split != "cluster":
        return random_split(len(tokens), opts.val_fraction, opts.test_fraction, seed, labels), None, "random split"
    clusters = kmer_clusters([decode(t) for t in tokens], opts.kmer, opts.cluster_threshold)
    parts = balanced_group_split(clusters, opts.val_fraction, opts.test_fraction, seed)
    n_clusters = len(np.unique(clusters))
    empty = [s for s in SPLITS if len(parts[s]) == 0]
    if empty:
        raise UserError(f"{source}: the {empty[0]} split is empty: {n_clusters} identity clusters "
                        f"cannot fill train/val/test ({opts.val_fraction}/{opts.test_fraction}); raise "
                        f"--cluster-threshold, change --val-fraction/--test-fraction, or use --split random")
    how = (f"split by k-mer identity clusters (k={opts.kmer}, containment >= {opts.cluster_threshold}, "
           f"{n_clusters} clusters)")
    return parts, clusters, how


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
