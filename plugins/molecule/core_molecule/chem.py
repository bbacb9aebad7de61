"""RDKit chemistry: parsing with reasons, standardisation, featurisation, scaffolds.

Everything RDKit touches lives here (imported inside the plugin's factories, never by the
entry-point module). A molecule becomes three views:

* a graph: atom features ``(n_atoms, ATOM_DIM)`` float32, directed edges ``(2, 2·n_bonds)``
  (both directions of every bond) and bond features ``(2·n_bonds, BOND_DIM)``;
* a Morgan fingerprint (``rdFingerprintGenerator``; counts or bits, ``uint8``, counts
  clipped at 255);
* SMILES token ids (:mod:`core_molecule.tokens`).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import numpy as np

# -- atom and bond features ------------------------------------------------------------------
ELEMENTS = ("H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I", "Li", "Na", "K", "Mg", "Ca",
            "Al", "Fe", "Cu", "Zn", "Sn", "As", "Pt", "Hg")
DEGREES = (0, 1, 2, 3, 4, 5)
CHARGES = (-2, -1, 0, 1, 2)
NUM_HS = (0, 1, 2, 3, 4)
HYBRIDISATIONS = ("S", "SP", "SP2", "SP3", "SP3D", "SP3D2")
CHIRALITY = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW")
RING_SIZES = (3, 4, 5, 6, 7, 8)
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
BOND_STEREO = ("STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS")

# one-hot blocks carry an extra "other" slot; then aromatic, in-ring, ring sizes, mass/100
ATOM_DIM = (len(ELEMENTS) + 1 + len(DEGREES) + 1 + len(CHARGES) + 1 + len(NUM_HS) + 1 + len(HYBRIDISATIONS) + 1
            + len(CHIRALITY) + 1 + 2 + len(RING_SIZES) + 1)
BOND_DIM = len(BOND_TYPES) + 1 + 2 + len(BOND_STEREO) + 1


def _one_hot(value, choices) -> list:
    out = [0.0] * (len(choices) + 1)
    try:
        out[choices.index(value)] = 1.0
    except ValueError:
        out[-1] = 1.0
    return out


def atom_features(atom) -> list:
    """One atom: element, degree, formal charge, total H count, hybridisation, chirality
    (one-hot with an 'other' slot), aromatic, in ring, ring sizes 3-8, mass / 100."""
    return (_one_hot(atom.GetSymbol(), ELEMENTS) + _one_hot(atom.GetDegree(), DEGREES)
            + _one_hot(atom.GetFormalCharge(), CHARGES) + _one_hot(atom.GetTotalNumHs(), NUM_HS)
            + _one_hot(str(atom.GetHybridization()), HYBRIDISATIONS) + _one_hot(str(atom.GetChiralTag()), CHIRALITY)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())]
            + [float(atom.IsInRingSize(n)) for n in RING_SIZES] + [atom.GetMass() / 100.0])


def bond_features(bond) -> list:
    """One bond: type (single/double/triple/aromatic/other), conjugated, in ring, stereo."""
    return (_one_hot(str(bond.GetBondType()), BOND_TYPES) + [float(bond.GetIsConjugated()), float(bond.IsInRing())]
            + _one_hot(str(bond.GetStereo()), BOND_STEREO))


def graph_arrays(mol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(atoms (n, ATOM_DIM) float32, edge_index (2, 2m) int64, edges (2m, BOND_DIM) float32)``.

    Every bond gives two directed edges (i→j then j→i) with the same features.
    """
    atoms = np.asarray([atom_features(a) for a in mol.GetAtoms()], dtype=np.float32).reshape(-1, ATOM_DIM)
    src, dst, feats = [], [], []
    for bond in mol.GetBonds():
        i, j, f = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond_features(bond)
        src += [i, j]
        dst += [j, i]
        feats += [f, f]
    edge_index = np.asarray([src, dst], dtype=np.int64).reshape(2, -1)
    edges = np.asarray(feats, dtype=np.float32).reshape(-1, BOND_DIM)
    return atoms, edge_index, edges


# -- fingerprints ------------------------------------------------------------------------------
class Fingerprinter:
    """Morgan fingerprints via ``rdFingerprintGenerator`` (ECFP-like; radius 2 = ECFP4)."""

    def __init__(self, radius: int = 2, size: int = 2048, counts: bool = True):
        from rdkit.Chem import rdFingerprintGenerator

        self.radius, self.size, self.counts = radius, size, counts
        self._gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=size)

    def __call__(self, mol) -> np.ndarray:
        if self.counts:
            return np.minimum(self._gen.GetCountFingerprintAsNumPy(mol), 255).astype(np.uint8)
        return self._gen.GetFingerprintAsNumPy(mol).astype(np.uint8)


# -- parsing and standardisation -----------------------------------------------------------
@contextmanager
def quiet_rdkit():
    """Silence RDKit's own logging (reasons are reported through our errors instead)."""
    from rdkit import rdBase

    blocker = rdBase.BlockLogs()
    try:
        yield
    finally:
        del blocker


def _sanitize(mol) -> Optional[str]:
    """Sanitize in place; return a reason string on failure (None when fine)."""
    from rdkit import Chem

    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        p = problems[0]
        return f"{p.GetType()}: {p.Message()}"
    try:
        Chem.SanitizeMol(mol)
    except Exception as e:  # RDKit raises MolSanitizeException subclasses
        return f"{type(e).__name__}: {str(e).strip()}"
    return None


def mol_from_smiles(smiles: str):
    """``(mol, None)`` or ``(None, reason)`` for one SMILES string."""
    from rdkit import Chem

    text = (smiles or "").strip()
    if not text:
        return None, "empty SMILES"
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(text, sanitize=False)
        if mol is None:
            return None, f"invalid SMILES '{_short(text)}' (syntax error)"
        why = _sanitize(mol)
    if why:
        return None, f"invalid SMILES '{_short(text)}' ({why})"
    if mol.GetNumAtoms() == 0:
        return None, f"empty molecule from SMILES '{_short(text)}'"
    return mol, None


def mol_from_block(block: str):
    """``(mol, None)`` or ``(None, reason)`` for one SDF/molfile record (text up to ``M  END``)."""
    from rdkit import Chem

    with quiet_rdkit():
        try:
            mol = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
        except Exception as e:  # malformed counts lines raise in some RDKit versions
            return None, f"unreadable molecule block ({type(e).__name__}: {str(e).strip()})"
        if mol is None:
            return None, "unreadable molecule block (RDKit could not parse it)"
        why = _sanitize(mol)
        if why is None:
            try:
                mol = Chem.RemoveHs(mol)
            except Exception as e:
                why = f"{type(e).__name__}: {str(e).strip()}"
    if why:
        return None, f"invalid molecule ({why})"
    if mol.GetNumAtoms() == 0:
        return None, "empty molecule (no atoms)"
    return mol, None


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


@dataclass(frozen=True)
class Standardiser:
    """Optional clean-up applied to every parsed molecule, in this order.

    strip_salts: remove counter-ions / solvents listed in RDKit's default salt definitions
        (``SaltRemover``), never removing every fragment.
    largest_fragment: keep the largest organic fragment (``rdMolStandardize.LargestFragmentChooser``).
    """

    strip_salts: bool = False
    largest_fragment: bool = False

    def __call__(self, mol):
        """``(mol, None)`` or ``(None, reason)``."""
        with quiet_rdkit():
            if self.strip_salts:
                from rdkit.Chem.SaltRemover import SaltRemover

                mol = _salt_remover().StripMol(mol, dontRemoveEverything=True)
            if self.largest_fragment:
                from rdkit.Chem.MolStandardize import rdMolStandardize

                mol = rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(mol)
        if mol is None or mol.GetNumAtoms() == 0:
            return None, "empty molecule after salt stripping / fragment selection"
        return mol, None


_SALT_REMOVER = None


def _salt_remover():
    global _SALT_REMOVER
    if _SALT_REMOVER is None:
        from rdkit.Chem.SaltRemover import SaltRemover

        _SALT_REMOVER = SaltRemover()
    return _SALT_REMOVER


def to_smiles(mol, canonical: bool = True) -> str:
    from rdkit import Chem

    return Chem.MolToSmiles(mol, canonical=canonical)


def scaffold(mol) -> str:
    """Bemis-Murcko scaffold SMILES (ring systems + linkers, no chirality); '' for acyclic molecules."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    with quiet_rdkit():
        return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)
