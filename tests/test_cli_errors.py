"""Issue 15: every bad flag, config value and run file gets one line (exit 2); a failed run
leaves no folder that looks like a run.

Flag cases run ``core.cli.main`` in-process (the checks happen before any data is read, so the
real CLI is the same code); a few go through the real command (``run_cli``) to show it.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core import cli
from core.config import RunConfig
from core.errors import UserError
from core.testing import TINY_RUN_ARGS as TINY, assert_user_error, run_cli

ONE_EPOCH = ["--epochs", "1", *TINY[2:]]
NO_GPU = not torch.cuda.is_available() and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


@pytest.fixture(scope="module")
def ucr(tmp_path_factory):
    from core_ecg.synthetic import write_ucr

    return write_ucr(tmp_path_factory.mktemp("ucr"), np.random.default_rng(0), n_train=40, n_test=24, length=48)


def user_error(capsys, *argv) -> str:
    """Run ``core ARGV`` in-process: exit 2 and one stderr line without a traceback."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own errors (bad choice, missing argument) exit like the real command
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- flags and config values
def _config(tmp_path, text):
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    return path


FLAG_CASES = [  # (extra argv, needles); each must fail before the run folder exists
    (["--batch-size", "0"], ["--batch-size 0", "e.g. --batch-size 128"]),
    (["--dim", "0"], ["--dim 0", ">= 1"]),
    (["--lr", "nan"], ["--lr nan", "finite", "e.g. --lr"]),
    (["--lr", "-1"], ["--lr -1", "> 0"]),
    (["--seed", "-1"], ["--seed -1", "e.g. --seed 0"]),
    (["--num-workers", "-1"], ["--num-workers -1", ">= 0"]),
    (["--precision", "fp7"], ["--precision fp7", "bf16-mixed"]),
    (["--epochs", "-1"], ["--epochs -1", "e.g. --epochs 10"]),  # Lightning would train forever
    (["--epochs", "0"], ["--epochs 0"]),  # an untrained network is never "pretrained"
    (["--epochs", "ten"], ["--epochs ten", "not a whole number"]),
    (["--seeds", "0"], ["--seeds 0", "e.g. --seeds"]),
    (["--devices", "0"], ["--devices 0", "auto"]),
    (["--num-nodes", "0"], ["--num-nodes 0"]),
    (["--strategy", "warp-drive"], ["--strategy warp-drive", "ddp"]),
    (["--loss-impl", "cuda"], ["--loss-impl", "triton"]),
    (["--config", "{tmp}/none.yaml"], ["none.yaml", "no such file"]),
    (["--config", "@epochs: ten\n"], ["settings.yaml, epochs: ten", "e.g. epochs: 10"]),
    (["--config", "@- 1\n- 2\n"], ["settings.yaml", "got a list"]),
    (["--config", "@epochs: [1\n"], ["settings.yaml", "not valid YAML", "line"]),
    (["--config", "@lr: .nan\n"], ["settings.yaml, lr: nan", "finite"]),
    (["--config", "@data_options: 3\n"], ["settings.yaml, data_options: 3", "mapping"]),
    (["--config", "@no_such_setting: 1\n"], ["settings.yaml: setting 'no_such_setting' is unknown"]),
    (["--out", "{tmp}/afile"], ["--out", "afile: is a file"]),
    (["--out", "{tmp}/afile/runs"], ["--out", "which is a file"]),
]


@pytest.mark.parametrize("extra,needles", FLAG_CASES, ids=[" ".join(c[0])[:40] for c in FLAG_CASES])
def test_bad_run_flags_fail_in_one_line_before_any_folder(capsys, tmp_path, ucr, extra, needles):
    (tmp_path / "afile").write_text("not a folder\n")
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    if extra[0] == "--config" and extra[1].startswith("@"):
        extra[1] = str(_config(tmp_path, extra[1][1:]))
    out = tmp_path / "out"
    argv = ["run", "--plugin", "ecg", "--data", ucr, "--out", out, *TINY, *extra]
    err = user_error(capsys, *argv)
    for needle in needles:
        assert needle in err, err
    assert not out.exists(), "a refused run must not create its folder"


def test_accelerator_without_the_hardware_is_refused(capsys, tmp_path, ucr):
    out = tmp_path / "out"
    if NO_GPU:
        err = user_error(capsys, "run", "--plugin", "ecg", "--data", ucr, "--out", out, "--accelerator", "gpu", *TINY)
        assert "--accelerator gpu" in err and "no GPU" in err and "--accelerator cpu" in err
    else:  # on a GPU machine: more devices than it has
        err = user_error(capsys, "run", "--plugin", "ecg", "--data", ucr, "--out", out, "--accelerator", "gpu",
                         "--devices", "999", *TINY)
        assert "--devices 999" in err
    assert not out.exists()


def test_other_commands_use_the_same_checks(capsys, tmp_path, ucr):
    out = tmp_path / "out"
    bench = ["bench", "--plugin", "ecg", "--data", ucr, "--out", out, "--epochs", "1"]
    assert "--seeds 0" in user_error(capsys, *bench, "--seeds", "0")
    assert "--budget-minutes -1" in user_error(capsys, *bench, "--budget-minutes", "-1")
    assert "--lr nan" in user_error(capsys, *bench, "--lr", "nan")
    assert "--epochs -1" in user_error(capsys, *bench[:-2], "--epochs", "-1")
    assert not out.exists()
    assert "--on-bad-record" in user_error(capsys, "embed", tmp_path, "--data", ucr, "--out", tmp_path / "e.npz",
                                           "--on-bad-record", "maybe")
    assert "no such run folder" in user_error(capsys, "evaluate", tmp_path / "missing")


def test_recipes_and_run_configs_go_through_the_same_rules():
    with pytest.raises(UserError, match=r"^recipe x/default, epochs: 0: must be a whole number >= 1"):
        RunConfig().update({"epochs": 0}, "recipe x/default")
    with pytest.raises(UserError, match=r"^--seeds 0: "):
        RunConfig().update({"seeds": "0"}, "command line")
    cfg = RunConfig().update({"epochs": "3", "lr": "1e-3", "devices": "auto", "precision": "bf16",
                              "compile": "yes", "seed": 7.0}, "command line")
    assert (cfg.epochs, cfg.lr, cfg.devices, cfg.precision, cfg.compile, cfg.seed) == (3, 1e-3, "auto",
                                                                                        "bf16-mixed", True, 7)


def test_the_real_command_gives_the_same_line_for_a_flag_and_a_config_key(capsys, tmp_path, ucr):
    out = tmp_path / "out"
    flag = user_error(capsys, "run", "--plugin", "ecg", "--data", ucr, "--out", out, "--epochs", "ten")
    config = _config(tmp_path, "epochs: ten\n")
    from_file = assert_user_error(run_cli("run", "--plugin", "ecg", "--data", ucr, "--out", out, "--config", config),
                                  f"--config {config}, epochs: ten")
    assert flag.split(": ", 2)[-1].split(";")[0] == from_file.split("epochs: ten: ")[-1].split(";")[0]
    assert not out.exists()


# ----------------------------------------------------------------------------- failed runs
def test_run_failing_on_its_data_leaves_no_folder(capsys, tmp_path):
    corpus = tmp_path / "bad"
    corpus.mkdir()
    (corpus / "Toy_TRAIN.tsv").write_text("1\t0.1\t0.2\n2\t0.3\n")
    (corpus / "Toy_TEST.tsv").write_text("1\t0.1\t0.2\n")
    out = tmp_path / "out"
    user_error(capsys, "run", "--plugin", "ecg", "--data", corpus, "--out", out, *TINY)
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory, ucr):
    """A run whose evaluation fails after training (a probe refusing the data): marked FAILED."""
    from core import runs

    out = tmp_path_factory.mktemp("failed") / "out"

    def refuse(*args, **kwargs):
        raise UserError("linear probe: the test split has one class; give more labelled records")

    mp = pytest.MonkeyPatch()
    mp.setattr(runs, "save_encoder", refuse)
    try:
        assert cli.main(["run", "--plugin", "ecg", "--data", str(ucr), "--out", str(out), *ONE_EPOCH]) == 2
    finally:
        mp.undo()
    (run,) = list(out.iterdir())
    return run


@pytest.fixture(scope="module")
def finished_run(failed_run, tmp_path_factory):
    """A copy of the failed run, finished by ``--resume`` (allowed: training is done, last.ckpt
    exists, so it evaluates again); returns the folder and what resume printed on stderr."""
    import contextlib
    import io

    run = tmp_path_factory.mktemp("finished") / failed_run.name
    shutil.copytree(failed_run, run)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["run", "--resume", str(run)])
    assert code == 0, err.getvalue()[-2000:]
    return run, err.getvalue()


def test_run_failing_after_training_is_marked_and_resumable(capsys, failed_run, finished_run, ucr, tmp_path):
    reason = (failed_run / "FAILED").read_text().strip()
    assert reason.startswith("linear probe: the test split has one class")
    assert (failed_run / "last.ckpt").exists() and not (failed_run / "metrics.json").exists()
    for argv in (["evaluate", failed_run], ["embed", failed_run, "--data", ucr, "--out", tmp_path / "e.npz"]):
        err = user_error(capsys, *argv)
        assert "this run failed (linear probe: the test split has one class" in err and "--resume" in err
    run, resumed = finished_run
    assert "failed earlier (linear probe" in resumed
    assert not (run / "FAILED").exists() and (run / "metrics.json").exists() and (run / "encoder.safetensors").exists()


# ----------------------------------------------------------------------------- damaged run files
def _copy(run, tmp_path, name):
    target = tmp_path / name
    shutil.copytree(run, target)
    (target / "FAILED").unlink(missing_ok=True)
    return target


def _truncate(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def test_damaged_run_files_are_one_line(capsys, finished_run, ucr, tmp_path):
    failed_run = finished_run[0]  # a finished run, copied and damaged below
    broken = _copy(failed_run, tmp_path, "yaml")
    (broken / "config.yaml").write_text("epochs: [1\nfoo")
    assert "config.yaml: not valid YAML" in user_error(capsys, "evaluate", broken)
    (broken / "config.yaml").write_text("epochs: ten\n")
    assert "config.yaml, epochs: ten" in user_error(capsys, "evaluate", broken)

    weights = _copy(failed_run, tmp_path, "weights")
    _truncate(weights / "encoder.safetensors")
    err = user_error(capsys, "embed", weights, "--data", ucr, "--out", tmp_path / "e.npz")
    assert "encoder.safetensors: not a readable safetensors file" in err
    card = _copy(failed_run, tmp_path, "card")
    (card / "card.json").write_text("{")
    assert "card.json: malformed run card" in user_error(capsys, "evaluate", card)

    ckpt = _copy(failed_run, tmp_path, "ckpt")
    _truncate(ckpt / "last.ckpt")
    err = user_error(capsys, "run", "--resume", ckpt, "--epochs", "2")  # more epochs: needs the checkpoint
    assert "last.ckpt: not a readable checkpoint" in err and "delete it" in err

    assert "--out" in user_error(capsys, "embed", failed_run, "--data", ucr, "--out", tmp_path)  # a folder
    (tmp_path / "afile").write_text("x")
    assert "is a file" in user_error(capsys, "embed", failed_run, "--data", ucr, "--out", tmp_path / "afile" / "e.npz")
    assert "--epochs -1" in user_error(capsys, "run", "--resume", failed_run, "--epochs", "-1")


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs Linux /sys, where no one can create folders")
def test_unwritable_places_are_one_line(capsys, finished_run, ucr):
    err = user_error(capsys, "run", "--plugin", "ecg", "--data", ucr, "--out", "/sys/core-runs", *TINY)
    assert "--out /sys/core-runs" in err and ("cannot create" in err or "not writable" in err)
    err = user_error(capsys, "embed", finished_run[0], "--data", ucr, "--out", "/sys/core-runs/e.npz")
    assert "--out /sys/core-runs/e.npz" in err and ("cannot create" in err or "not writable" in err)


def test_resume_of_a_finished_run_without_its_encoder(capsys, finished_run, tmp_path):
    """Rebuilt from last.ckpt without new epochs (same weights); without a checkpoint, refused."""
    from safetensors.torch import load_file

    run = _copy(finished_run[0], tmp_path, "lost")
    before = load_file(str(run / "encoder.safetensors"))
    (run / "encoder.safetensors").unlink()
    no_ckpt = _copy(run, tmp_path, "lost-no-ckpt")
    (no_ckpt / "last.ckpt").unlink()
    err = user_error(capsys, "run", "--resume", no_ckpt)
    assert "encoder.safetensors missing and no last.ckpt" in err
    assert cli.main(["run", "--resume", str(run)]) == 0
    after = load_file(str(run / "encoder.safetensors"))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert json.loads((run / "card.json").read_text())["epochs"] == 1


def test_resume_refuses_flags_that_would_change_the_run(capsys, finished_run, ucr, tmp_path):
    """``--resume`` keeps the run's config.yaml: other flags are named in one line, not ignored."""
    run = finished_run[0]
    err = assert_user_error(run_cli("run", "--resume", run, "--lr", "0.1", "--data", ucr, "--smiles-col", "smi"),
                            f"--resume {run}: --data, --lr, --smiles-col cannot be changed when resuming",
                            "only --epochs, --steps, --no-progress apply", f"--config {run / 'config.yaml'} --data")
    assert "Traceback" not in err
    for flag in (["--seeds", "2"], ["--set", "k=3"], ["--option", "length=10"], ["--compile"], ["--out", tmp_path]):
        assert f"{flag[0]} cannot be changed" in user_error(capsys, "run", "--resume", run, *flag)
    copy = _copy(run, tmp_path, "quiet")
    assert cli.main(["run", "--resume", str(copy), "--no-progress"]) == 0
    assert "it/s" not in capsys.readouterr().err  # no progress bar


CPU_ALLOCATOR_REFUSAL = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                         "you tried to allocate 3623878656 bytes. Error code 12 (Cannot allocate memory)")


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError(CPU_ALLOCATOR_REFUSAL)], ids=["python", "torch-cpu"])
def test_out_of_memory_is_one_line_naming_core_prepare(monkeypatch, capsys, tmp_path, error):
    from core import runs

    def exhausted(*args, **kwargs):
        raise error

    monkeypatch.setattr(runs, "execute", exhausted)
    assert cli.main(["run", "--plugin", "ecg", "--out", str(tmp_path), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "out of memory" in err and "core prepare" in err and "--dim" in err


def test_other_runtime_errors_are_not_called_out_of_memory(monkeypatch, tmp_path):
    from core import runs

    def broken(*args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(runs, "execute", broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        cli.main(["run", "--plugin", "ecg", "--out", str(tmp_path), "--epochs", "1"])


def test_training_state_too_large_for_the_host_is_one_line_before_training(monkeypatch, capsys, tmp_path, ucr):
    """A CPU run whose weights, gradients, Adam moments and checkpoint copy cannot fit stops
    before its first step, naming the memory and the fix, and leaves no run folder."""
    from core import host_memory

    monkeypatch.setattr(host_memory, "available_bytes", lambda: 2 ** 20)
    out = tmp_path / "out"
    err = user_error(capsys, "run", "--plugin", "ecg", "--data", ucr, "--out", out, *ONE_EPOCH)
    assert "more memory and 0.0 GiB is available" in err and "--dim" in err and "proj_dim" in err, err
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())
