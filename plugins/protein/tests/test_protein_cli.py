"""Integration: the real `core` CLI on corpora written with Biopython (FASTA + CSV, Stockholm, PDB/mmCIF).

Runs go through the console command in a subprocess; commands that stop early (user errors) and
`core embed` call the same entry point, ``core.cli.main``, in-process to save interpreter start-ups.
"""
from __future__ import annotations

import json

import pandas as pd

from core.cli import main as core_main
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, only_run_dir
from core_protein.synthetic import (family_members, real_peptides, write_fasta, write_labels, write_stockholm,
                                    write_structure)


def test_fasta_with_csv_labels_run_then_embed(cli, tmp_path):
    rows = real_peptides(48)
    data = tmp_path / "corpus"
    data.mkdir()
    write_fasta(data / "peptides.fasta", rows)
    write_labels(data / "labels.csv", rows)
    out = tmp_path / "runs"
    res = assert_ok(cli("run", "--plugin", "protein", "--data", data, "--out", out, *TINY))
    assert "pretrained encoder" in res.stdout and "random-init encoder" in res.stdout and "raw features" in res.stdout
    run = only_run_dir(out)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"]["name"] == "protein/file" and metrics["primary_metric"] == "auroc"
    assert sum(metrics["dataset"]["sizes"][s] for s in ("train", "val", "test")) == 48
    card = json.loads((run / "card.json").read_text())
    assert card["encoder"] == "protein/cnn" and card["input_spec"]["vocab_size"] == 27
    target = tmp_path / "emb.parquet"
    assert core_main(["embed", str(run), "--data", str(data), "--out", str(target)]) == 0
    frame = pd.read_parquet(target)
    assert sorted(frame["id"]) == sorted(r[0] for r in rows) and list(frame["input_index"]) == list(range(48))
    assert {"sequence", "length"} <= set(frame.columns)
    assert frame.loc[0, "sequence"] == rows[0][1] and frame.loc[0, "length"] == len(rows[0][1])


def test_stockholm_family_folder_with_the_transformer(cli, tmp_path, capsys):
    fams = family_members(3, 12, length=35, seed=2)
    for f in range(3):
        write_stockholm(tmp_path / f"PF{f}.sto", [r for r in fams if r[2] == f"family{f}"], family_id=f"FAM{f}")
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "protein", "--data", tmp_path, "--encoder", "protein/transformer",
                  "--projector", "protein/spectrum", "--out", out, *TINY))
    metrics = json.loads((only_run_dir(out) / "metrics.json").read_text())
    assert metrics["dataset"]["task"]["class_names"] == ["FAM0", "FAM1", "FAM2"]
    assert metrics["primary_metric"] == "accuracy" and metrics["dataset"]["sizes"]["test"] == 4
    # whole families are single identity clusters: three cannot fill three splits, said in one line
    assert_user_error(capsys, ["run", "--plugin", "protein", "--data", str(tmp_path), "--split", "cluster", "--out",
                                str(tmp_path / "no-runs"), *TINY],
                      "identity clusters cannot fill", "--split random")


def test_structure_folder_with_the_contact_encoder(cli, tmp_path):
    folder = tmp_path / "structures"
    for klass, seeds in (("helical", "AEELLKKAEELLKK"), ("mixed", "VKVTVKVGPDGTYW")):
        (folder / klass).mkdir(parents=True)
        for i in range(10):
            seq = seeds[i % 5:] + seeds[: i % 5]
            write_structure(folder / klass / f"{klass}{i}.{'cif' if i % 3 == 0 else 'pdb'}", {"A": seq},
                            fmt="cif" if i % 3 == 0 else "pdb")
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "protein", "--data", folder, "--encoder", "protein/contact", "--out", out,
                  *TINY))
    run = only_run_dir(out)
    card = json.loads((run / "card.json").read_text())
    assert card["input_spec"]["channel_names"] == ["residue", "ca"] and card["task"]["class_names"] == ["helical", "mixed"]


def test_bad_residue_is_a_one_line_error(tmp_path, capsys):
    rows = real_peptides(40)
    rows[7] = ("broken7", "GLWSK9KEV", rows[7][2])
    path = write_fasta(tmp_path / "p.fasta", rows, [f"class={r[2]}" for r in rows])
    assert_user_error(capsys, ["run", "--plugin", "protein", "--data", str(path), "--label-regex", "class=(\\w+)",
                               "--out", str(tmp_path / "runs"), *TINY], "p.fasta:broken7", "residue '9' at position 6", "--on-bad-record skip")


def assert_user_error(capsys, argv, *needles):
    """``core.cli.main(argv)`` stops with exit 2 and ONE stderr line naming every needle."""
    capsys.readouterr()
    assert core_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert all(n in err for n in needles), err
