"""SMILES tokenisation: the regex of Schwaller et al. (2019, Molecular Transformer) and a FIXED
vocabulary, so that a trained encoder reads any later file with the same ids.

Ids: 0 padding, 1 unknown, then the tokens of ``COMMON`` in order, then ``HASH_BUCKETS``
buckets for bracket atoms not in ``COMMON`` (``[13CH3]``, ``[Pt+2]``, ...), chosen by a stable
CRC-32 of the token text. Sequences longer than ``max_len`` keep their first ``max_len`` tokens.
"""
from __future__ import annotations

import re
import zlib

import numpy as np

SMILES_REGEX = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])")

PAD, UNK = 0, 1
COMMON = (
    # organic subset, aromatic atoms, bonds, branches, ring closures
    "C", "N", "O", "S", "P", "F", "Cl", "Br", "I", "B", "c", "n", "o", "s", "p", "b",
    "(", ")", ".", "=", "#", "-", "+", "\\", "/", ":", "~", "@", "?", ">", "*", "$",
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "0",
    "%10", "%11", "%12", "%13", "%14", "%15", "%16", "%17", "%18", "%19", "%20",
    # frequent bracket atoms
    "[nH]", "[NH+]", "[NH2+]", "[NH3+]", "[N+]", "[N-]", "[n+]", "[n-]", "[O-]", "[OH-]", "[S-]", "[S+]", "[s+]",
    "[C@H]", "[C@@H]", "[C@]", "[C@@]", "[H]", "[2H]", "[13C]", "[14C]", "[O+]", "[o+]", "[P+]", "[SiH2]", "[Si]",
    "[Se]", "[se]", "[B-]", "[Na+]", "[K+]", "[Li+]", "[Cl-]", "[Br-]", "[I-]", "[Ca+2]", "[Mg+2]", "[Zn+2]",
    "[Fe+2]", "[Fe+3]", "[Cu+2]", "[Al+3]", "[NH4+]", "[Na]", "[K]", "[Li]", "[Ag+]", "[Pt]", "[Hg]",
    "[CH2]", "[CH]", "[C-]", "[CH-]", "[c-]", "[N@]", "[N@@]", "[S@]", "[S@@]", "[P@]", "[P@@]", "[Sn]", "[As]",
)
HASH_BUCKETS = 32
VOCAB = {t: i + 2 for i, t in enumerate(COMMON)}
VOCAB_SIZE = 2 + len(COMMON) + HASH_BUCKETS
DEFAULT_MAX_LEN = 256


def tokenize(smiles: str) -> list[str]:
    """Split ``smiles`` into regex tokens; characters the regex does not cover become their own
    (unknown) tokens, so ``"".join(tokenize(s)) == s`` always holds."""
    out, pos = [], 0
    for m in SMILES_REGEX.finditer(smiles):
        if m.start() > pos:
            out += list(smiles[pos:m.start()])
        out.append(m.group(0))
        pos = m.end()
    out += list(smiles[pos:])
    return out


def token_id(token: str) -> int:
    known = VOCAB.get(token)
    if known is not None:
        return known
    if token.startswith("[") and token.endswith("]"):
        return 2 + len(COMMON) + zlib.crc32(token.encode()) % HASH_BUCKETS
    return UNK


def encode(smiles: str, max_len: int = DEFAULT_MAX_LEN) -> np.ndarray:
    """Token ids ``(min(n_tokens, max_len),)`` int64 (never 0: 0 is padding)."""
    return np.asarray([token_id(t) for t in tokenize(smiles)[:max_len]], dtype=np.int64)
