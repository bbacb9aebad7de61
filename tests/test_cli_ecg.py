"""Integration: the real `core` CLI end to end on tiny corpora written in the real formats."""
import json
import shutil

import numpy as np
import pytest
import yaml

from core_ecg.synthetic import beat, write_ptbxl, write_ucr, write_wfdb, write_wfdb_dir
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def ucr(tmp_path, rng):
    return write_ucr(tmp_path / "ucr", rng, n_train=40, n_test=24, length=48)


def test_run_ucr_folder_writes_the_whole_run_folder(cli, ucr, tmp_path):
    out = tmp_path / "runs"
    res = assert_ok(cli("run", "--plugin", "ecg", "--data", ucr, "--out", out, *TINY))
    assert "pretrained encoder" in res.stdout and "random-init encoder" in res.stdout and "raw features" in res.stdout
    run = only_run_dir(out)
    for name in ("config.yaml", "encoder.safetensors", "card.json", "last.ckpt", "metrics.json", "report.md",
                 "loss_curve.png", "embedding_map.png"):
        assert (run / name).exists(), name
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["dataset"] == "ecg/records" and cfg["encoder"] == "ecg/cnn" and cfg["epochs"] == 2
    card = json.loads((run / "card.json").read_text())
    assert card["input_spec"]["shape"] == [1, 48] and card["dim"] == 16 and card["plugin_versions"]["ecg"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"pretrained encoder", "random-init encoder", "raw features"}
    assert 0.0 <= metrics["summary"]["pretrained encoder"]["linear/accuracy"]["mean"] <= 1.0
    report = (run / "report.md").read_text()
    assert "raw features" in report and "loss_curve.png" in report and "embedding_map.png" in report
    from safetensors.torch import load_file

    assert any(k.endswith("weight") for k in load_file(str(run / "encoder.safetensors")))


def test_evaluate_and_embed(cli, ucr, tmp_path):
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", ucr, "--out", out, *TINY))
    run = only_run_dir(out)
    res = assert_ok(cli("evaluate", run))
    assert "pretrained encoder" in res.stdout and (run / "evaluate.json").exists()
    for ext in ("npz", "parquet", "npy"):
        target = tmp_path / f"emb.{ext}"
        res = assert_ok(cli("embed", run, "--data", ucr, "--out", target))
        assert "wrote 64 embeddings" in res.stdout
    npz = np.load(tmp_path / "emb.npz")
    assert npz["embeddings"].shape == (64, 16) and len(set(npz["ids"])) == 64
    assert set(npz["split"]) == {"train", "test"}  # a small UCR corpus keeps its shipped split: no val carved
    import pandas as pd

    frame = pd.read_parquet(tmp_path / "emb.parquet")
    assert list(frame.columns[:2]) == ["id", "split"] and frame.shape == (64, 18)
    np.testing.assert_allclose(frame[[f"e{i}" for i in range(16)]].to_numpy(), npz["embeddings"], rtol=1e-6)
    assert np.load(tmp_path / "emb.npy").shape == (64, 16)
    assert (tmp_path / "emb.ids.csv").read_text().startswith("id,split\n")
    assert_user_error(cli("embed", run, "--data", ucr, "--out", tmp_path / "emb.csv"), "emb.csv", ".npz")
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "progress": True}))  # the run's bars on
    shown = assert_ok(cli("embed", run, "--data", ucr, "--out", tmp_path / "bars.npy"))
    assert "embedding train" in shown.stderr
    quiet = assert_ok(cli("embed", run, "--data", ucr, "--out", tmp_path / "quiet.npy", "--no-progress"))
    assert "wrote 64 embeddings" in quiet.stdout and "embedding train" not in quiet.stderr


def test_resume_continues_from_last_checkpoint(cli, ucr, tmp_path):
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", ucr, "--out", out, *TINY[:1], "1", *TINY[2:]))
    run = only_run_dir(out)
    first = json.loads((run / "seed-metrics.json").read_text())
    assert [h["epoch"] for h in first["history"]] == [0]
    assert_ok(cli("run", "--resume", run, "--epochs", "3"))
    done = json.loads((run / "seed-metrics.json").read_text())
    assert [h["epoch"] for h in done["history"]] == [0, 1, 2]
    assert done["history"][0] == first["history"][0]  # restored, not retrained
    assert done["epochs"] == 3


def test_wfdb_records_folder(cli, tmp_path, rng):
    folder = write_wfdb_dir(tmp_path / "wfdb", rng, n=30, length=300)
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", folder, "--out", out, *TINY))
    card = json.loads((only_run_dir(out) / "card.json").read_text())
    assert card["input_spec"]["shape"] == [2, 300] and card["task"]["kind"] == "multiclass"


def test_ptbxl_layout_multilabel(cli, tmp_path, rng):
    folder = write_ptbxl(tmp_path / "ptbxl", rng, n=40)
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", folder, "--out", out, *TINY))
    run = only_run_dir(out)
    card = json.loads((run / "card.json").read_text())
    assert card["task"]["kind"] == "multilabel" and card["task"]["class_names"] == ["NORM", "MI", "STTC", "CD", "HYP"]
    assert card["input_spec"]["shape"] == [12, 1000]
    sizes = json.loads((run / "metrics.json").read_text())["dataset"]["sizes"]
    assert (sizes["train"], sizes["val"], sizes["test"]) == (32, 4, 4)  # strat_fold 1-8 / 9 / 10


def test_user_errors_are_one_line_exit_2(cli, tmp_path, rng, ucr):
    assert_user_error(cli("run", "--plugin", "ecg", "--data", tmp_path / "nope"), "nope", "check the path")
    assert_user_error(cli("run", "--plugin", "ekg"), "unknown plugin 'ekg'", "ecg")
    assert_user_error(cli("run", "--plugin", "ecg", "--encoder", "ecg/incepton"), "ecg/inception")
    assert_user_error(cli("run", "--plugin", "ecg", "--data", ucr, "--option", "nonsense=1"), "nonsense")
    ragged = tmp_path / "ragged"
    shutil.copytree(ucr, ragged)
    lines = (ragged / "Toy_TRAIN.tsv").read_text().splitlines()
    lines[6] = "\t".join(lines[6].split("\t")[:-5])
    (ragged / "Toy_TRAIN.tsv").write_text("\n".join(lines) + "\n")
    assert_user_error(cli("run", "--plugin", "ecg", "--data", ragged, *TINY), "Toy_TRAIN.tsv:7")
    folder = write_wfdb_dir(tmp_path / "bad", rng, n=24, length=200)
    (folder / "rec03.hea").write_text("this is not a header\n")
    assert_user_error(cli("run", "--plugin", "ecg", "--data", folder, *TINY), "rec03")
    nolabels = write_wfdb_dir(tmp_path / "nolabels", rng, n=12, length=200)
    (nolabels / "labels.csv").write_text("record,label\n" + "".join(f"rec{i:02d},A\n" for i in range(11)))
    assert_user_error(cli("run", "--plugin", "ecg", "--data", nolabels, *TINY), "rec11")


def test_nan_record_errors_or_is_skipped_and_listed(cli, tmp_path, rng):
    folder = write_wfdb_dir(tmp_path / "nan", rng, n=30, length=200)
    signal = beat(rng, 200, 250, 0)
    signal[50:60, 0] = np.nan
    write_wfdb(folder, "rec05", signal, 250)
    assert_user_error(cli("run", "--plugin", "ecg", "--data", folder, *TINY), "rec05")
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", folder, "--on-bad-record", "skip", "--out", out, *TINY))
    skipped = (only_run_dir(out) / "skipped.csv").read_text()
    assert skipped.startswith("record,reason") and "rec05" in skipped
    assert "1 bad records were skipped" in (only_run_dir(out) / "report.md").read_text()


def test_ddp_two_cpu_processes_agree(cli, ucr, tmp_path):
    """Two gloo processes build the same projector bank / DPP choice and end with equal parameters."""
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", ucr, "--out", out, "--devices", "2", "--strategy", "ddp",
            "--accelerator", "cpu", *TINY))
    run = only_run_dir(out)
    ranks = [json.loads((run / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["projector_bank"] == ranks[1]["projector_bank"]
    assert ranks[0] == ranks[1]
    assert (run / "metrics.json").exists()


def test_embedded_default_one_epoch(cli, tmp_path):
    out = tmp_path / "runs"
    res = assert_ok(cli("run", "--plugin", "ecg", "--epochs", "1", "--out", out, "--no-progress"))
    metrics = json.loads((only_run_dir(out) / "metrics.json").read_text())
    assert metrics["dataset"]["sizes"]["test"] == 4500 and metrics["primary_metric"] == "accuracy"
    assert "raw features" in res.stdout


def test_reader_flag_reaches_the_reader_and_tsai_encoder_under_bf16(cli, ucr, tmp_path):
    """`--length 40` is a reader flag (no core flag of that name); tsai XResNet1d trains in bf16-mixed."""
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", ucr, "--length", "40", "--encoder", "ecg/xresnet1d",
            "--precision", "bf16-mixed", "--out", out, *TINY))
    card = json.loads((only_run_dir(out) / "card.json").read_text())
    assert card["input_spec"]["shape"] == [1, 40] and card["encoder"] == "ecg/xresnet1d"
    assert_user_error(cli("run", "--plugin", "ecg", "--data", ucr, "--no-such-flag", "3", *TINY), "no_such_flag")
