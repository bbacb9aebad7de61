"""Issue 15 through the real CLI: skip mode covers structure files, ids are unique per path (not
per file name), and unsupported files are listed in ``skipped.csv`` (item 4)."""
from __future__ import annotations

import json

from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core_protein.synthetic import write_structure


def structure_folder(root):
    """Class folders a/ and b/, each with s0.pdb .. s5.pdb (same names in both), one corrupt
    a/broken.pdb and an unsupported song.mp3."""
    for klass, seq in (("a", "ACDEFGHIKLMNPQRSTVWY"), ("b", "WYVTSRQPNMLKIHGFEDCA")):
        (root / klass).mkdir(parents=True)
        for i in range(6):
            write_structure(root / klass / f"s{i}.pdb", {"A": seq[i:] + seq[:i]})
    (root / "a" / "broken.pdb").write_bytes(b"ATOM      1  CA  ALA A   1    garbage\n\xff\xfe\x00")
    (root / "b" / "song.mp3").write_bytes(b"ID3\x03\x00" + bytes(32))
    return root


def test_one_corrupt_structure_is_skipped_and_same_names_in_two_folders_are_two_records(cli, tmp_path):
    folder = structure_folder(tmp_path / "structures")
    message = assert_user_error(cli("run", "--plugin", "protein", "--data", folder, "--out", tmp_path / "runs",
                                    *TINY), "broken.pdb", "--on-bad-record skip")
    assert "pass --data" not in message  # it is a PDB file: the advice is to fix or skip it
    out = tmp_path / "skip"
    assert_ok(cli("run", "--plugin", "protein", "--data", folder, "--on-bad-record", "skip", "--out", out, *TINY))
    run = only_run_dir(out)
    skipped = (run / "skipped.csv").read_text()
    assert "broken.pdb" in skipped and "song.mp3" in skipped and "appears twice" not in skipped
    sizes = json.loads((run / "metrics.json").read_text())["dataset"]["sizes"]
    assert sizes["train"] + sizes["val"] + sizes["test"] == 12  # a/s0 and b/s0 are both kept
