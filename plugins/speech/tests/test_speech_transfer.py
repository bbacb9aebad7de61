"""Issue 14 item 1 through the real CLI: pretrain on a flat folder of clips (``--pretrain-data``)
plus class folders, then probe the run's encoder on other class folders (``core evaluate RUN --data``)."""
from __future__ import annotations

import numpy as np

from core.testing import assert_transfer
from core_speech import synthetic
from core_speech.datasets import load_files

READER = ["--sample-rate", "8000", "--max-seconds", "1.0"]  # small features; evaluate repeats them (same inputs)


def test_pretrain_on_a_flat_audio_folder_then_evaluate_on_other_class_folders(cli, tmp_path):
    labelled = synthetic.class_folders(tmp_path / "a", speakers=4, per=2, seed=0)  # 3 classes x 4 x 2 = 24 clips
    second = synthetic.class_folders(tmp_path / "b", speakers=4, per=2, seed=1)  # other clips
    unlabelled = tmp_path / "u"
    rng = np.random.default_rng(2)
    for i in range(12):  # no class folders, no speakers: 12 clips
        synthetic.write_clip(unlabelled / f"clip{i}.wav", i % 3, i % 4, rng)
    expected = load_files(str(second), seed=0, options={"sample_rate": "8000", "max_seconds": "1.0"}).splits
    assert_transfer("speech", labelled, second, unlabelled, tmp_path / "runs", unlabelled_size=12,
                    other_size=24, other_test=len(expected["test"]), reader_args=READER, cli=cli)
