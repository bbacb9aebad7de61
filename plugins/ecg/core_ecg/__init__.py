"""core-ecg: ECG data readers, encoders and the embedded ECG5000 default for ``core``.

The entry-point module is :mod:`core_ecg.plugin` (light); readers live in
:mod:`core_ecg.readers` and :mod:`core_ecg.ucr`, preprocessing in :mod:`core_ecg.preprocess`,
the split policy in :mod:`core_ecg.splits`, dataset assembly in :mod:`core_ecg.datasets`,
encoders in :mod:`core_ecg.encoders`, the projector bank in :mod:`core_ecg.projectors`.
"""
__version__ = "0.1.0"
