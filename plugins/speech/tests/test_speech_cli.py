"""The real `core` command on corpora written with soundfile (WAV + FLAC, mixed rates and lengths)."""
import csv
import json

import numpy as np

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir


def test_class_folders_run_then_embed_a_plain_folder(cli, tmp_path, folders):
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "speech", "--data", folders, "--sample-rate", "8000", "--out", out, *TINY))
    run = only_run_dir(out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"pretrained encoder", "random-init encoder", "raw features"}
    assert metrics["dataset"]["sizes"]["test"] > 0 and metrics["primary_metric"] == "accuracy"
    card = json.loads((run / "card.json").read_text())
    assert card["input_spec"]["modality"] == "audio" and card["input_spec"]["sample_rate"] == 8000
    plain = tmp_path / "plain"
    plain.mkdir()
    for p in sorted(folders.rglob("*.flac"))[:4]:
        (plain / p.name).write_bytes(p.read_bytes())
    (plain / "bad.wav").write_bytes(b"nothing")
    assert_ok(cli("embed", run, "--data", plain, "--out", tmp_path / "emb.npz"))
    emb = np.load(tmp_path / "emb.npz")
    assert emb["embeddings"].shape == (5, 16) and np.isnan(emb["embeddings"][list(emb["split"]).index("failed")]).all()


def test_manifest_with_speakers_bad_file_error_then_skip(cli, tmp_path, manifest):
    with open(manifest, "a", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow(("audio/cut.wav", "up", "speaker3"))
    whole = (manifest.parent / "audio" / "s3_up_0.wav").read_bytes()
    (manifest.parent / "audio" / "cut.wav").write_bytes(whole[: len(whole) // 3])
    out = tmp_path / "runs"
    assert_user_error(cli("run", "--plugin", "speech", "--data", manifest, "--out", tmp_path / "failed", *TINY), "cut.wav",
                      "truncated WAV", "--on-bad-record skip")
    assert_ok(cli("run", "--plugin", "speech", "--data", manifest, "--encoder", "speech/conformer", "--projector",
                  "speech/wave_conv", "--on-bad-record", "skip", "--out", out, *TINY))
    run = only_run_dir(out)
    skipped = (run / "skipped.csv").read_text()
    assert "cut.wav" in skipped and "truncated" in skipped
    assert json.loads((run / "metrics.json").read_text())["dataset"]["sizes"]["test"] > 0


def test_contract(core_check_contract):
    report = core_check_contract("speech")
    kinds = {r.kind for r in report.results}
    assert {"dataset", "encoder", "projector", "recipe"} <= kinds and report.ok
