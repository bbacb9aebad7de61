"""Molecule plugin for core (RDKit): readers, encoders, projector banks, scaffold splits."""
__version__ = "0.1.0"
