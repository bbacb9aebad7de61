"""Residue alphabet: a FIXED vocabulary, the non-standard residue policy and the composition floor.

Ids: 0 padding, 1..20 the standard residues ``ACDEFGHIKLMNPQRSTVWY``, then one id each for the
IUPAC extras, kept distinct so that nothing is silently merged:

==== ================================= ======================================
code meaning                           share in the composition (raw floor)
==== ================================= ======================================
X    unknown residue                   1/20 to each standard residue
B    Asx: D or N                       1/2 D + 1/2 N
Z    Glx: E or Q                       1/2 E + 1/2 Q
J    Xle: I or L                       1/2 I + 1/2 L
U    selenocysteine                    C (its sulphur analogue)
O    pyrrolysine                       K (a modified lysine)
==== ================================= ======================================

Sequences are upper-cased; gap characters ``-`` and ``.`` are removed (alignments); one
trailing ``*`` (stop codon of translated gene calls) is removed. Any other character (digits,
``*`` inside a sequence, ``#``...) makes the record bad: :func:`encode` raises ``ValueError``
naming the character and position, and the dataset turns it into an error naming the record,
or a skipped record under ``--on-bad-record skip``.
"""
from __future__ import annotations

import numpy as np

STANDARD = "ACDEFGHIKLMNPQRSTVWY"
EXTRA = "XBZJUO"
PAD = 0
VOCAB = {aa: i + 1 for i, aa in enumerate(STANDARD + EXTRA)}
VOCAB_SIZE = 1 + len(STANDARD) + len(EXTRA)  # 27
GAPS = "-."

# composition share of each id (rows: ids 0..26, columns: the 20 standard residues)
_SHARE = np.zeros((VOCAB_SIZE, 20), dtype=np.float32)
for _aa, _i in VOCAB.items():
    if _aa in STANDARD:
        _SHARE[_i, STANDARD.index(_aa)] = 1.0
_SHARE[VOCAB["X"]] = 1.0 / 20
for _code, _parts in {"B": "DN", "Z": "EQ", "J": "IL", "U": "C", "O": "K"}.items():
    for _p in _parts:
        _SHARE[VOCAB[_code], STANDARD.index(_p)] = 1.0 / len(_parts)
COMPOSITION_SHARE = _SHARE


def clean(sequence: str) -> str:
    """Upper-case, drop gaps and one trailing stop ``*``; the residues are not checked here."""
    text = "".join(str(sequence).split()).upper()
    for g in GAPS:
        text = text.replace(g, "")
    return text[:-1] if text.endswith("*") else text


def encode(sequence: str) -> np.ndarray:
    """Token ids ``(n,)`` int64 of a cleaned sequence (never 0); ``ValueError`` on a bad character."""
    ids = np.fromiter((VOCAB.get(c, -1) for c in sequence), dtype=np.int64, count=len(sequence))
    bad = np.flatnonzero(ids < 0)
    if len(bad):
        c = sequence[bad[0]]
        raise ValueError(f"residue {c!r} at position {bad[0] + 1} is not an amino-acid code "
                         f"({STANDARD} or {'/'.join(EXTRA)})")
    if not len(ids):
        raise ValueError("the sequence is empty")
    return ids


def decode(ids) -> str:
    letters = "?" + STANDARD + EXTRA
    return "".join(letters[int(i)] for i in ids if int(i) != PAD)


def composition(ids: np.ndarray) -> np.ndarray:
    """The 20 standard-residue frequencies of one sequence (extras shared as in the table above)."""
    ids = np.asarray(ids)
    return COMPOSITION_SHARE[ids[ids != PAD]].mean(axis=0)


def composition_features(sequences) -> np.ndarray:
    """Raw-feature floor ``(N, 21)``: amino-acid composition (20 frequencies) + log10(length)."""
    out = np.zeros((len(sequences), 21), dtype=np.float32)
    for i, ids in enumerate(sequences):
        out[i, :20] = composition(ids)
        out[i, 20] = np.log10(max(len(ids), 1))
    return out
