"""Non-standard residue policy: X/B/Z/J/U/O mapped explicitly, anything else is a bad record."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core_protein import alphabet
from core_protein.datasets import Problems, build, load_file
from core_protein.options import Options
from core_protein.readers import Record
from core_protein.synthetic import write_fasta


def test_extras_have_their_own_ids_and_documented_composition_shares():
    ids = alphabet.encode("XBZJUO")
    assert len(set(ids.tolist())) == 6 and (ids > 20).all() and alphabet.VOCAB_SIZE == 27
    comp = {c: alphabet.composition(alphabet.encode(c)) for c in "XBZJUO"}
    col = alphabet.STANDARD.index
    np.testing.assert_allclose(comp["X"], np.full(20, 0.05))
    assert comp["B"][col("D")] == comp["B"][col("N")] == 0.5 and comp["B"].sum() == 1
    assert comp["Z"][col("E")] == comp["Z"][col("Q")] == 0.5
    assert comp["J"][col("I")] == comp["J"][col("L")] == 0.5
    assert comp["U"][col("C")] == 1 and comp["O"][col("K")] == 1
    assert alphabet.decode(ids) == "XBZJUO"


def test_clean_upper_cases_removes_gaps_and_one_trailing_stop():
    assert alphabet.clean("ac-DE..f g*") == "ACDEFG"
    with pytest.raises(ValueError, match=r"'\*' at position 3"):
        alphabet.encode(alphabet.clean("AC*DE*"))


@pytest.mark.parametrize("bad", ["AC1DE", "ACD#E", "AC@"])
def test_other_characters_raise_naming_the_character(bad):
    with pytest.raises(ValueError, match="is not an amino-acid code"):
        alphabet.encode(bad)


def test_dataset_error_names_the_record_and_skip_lists_it(tmp_path):
    rows = [(f"p{i}", "ACDEFGHIKLMNPQRSTVWY"[i % 5:], "a" if i % 2 else "b") for i in range(12)]
    rows[3] = ("weird3", "ACDE1FGH", "a")
    path = write_fasta(tmp_path / "s.fasta", rows, [f"class={r[2]}" for r in rows])
    with pytest.raises(UserError, match=r"s\.fasta:weird3: residue '1' at position 5"):
        load_file(str(path), options={"label_regex": "class=(\\w+)"})
    data = load_file(str(path), on_bad_record="skip", options={"label_regex": "class=(\\w+)"})
    assert data.skipped == [(f"{path}:weird3", "residue '1' at position 5 is not an amino-acid code "
                                               "(ACDEFGHIKLMNPQRSTVWY or X/B/Z/J/U/O)")]
    assert data.failed[0]["id"] == "weird3" and data.failed[0]["input_index"] == 3
    kept = sum(len(data.splits[s]) for s in ("train", "val", "test"))
    assert kept == 11


def _records(lengths):
    return [Record(f"r{i}", "A" * n, f"f:r{i}", family="x" if i % 2 else "y") for i, n in enumerate(lengths)]


def test_long_sequences_are_cropped_and_recorded_or_rejected():
    lengths = [5, 12, 30, 9, 8, 50, 7, 6, 10, 11]
    records = _records(lengths)
    data = build(records, [r.id for r in records], Options(max_length=10), Problems("error"), 0, "t", "src")
    assert "4 cropped" in data.source
    all_tokens = [t for s in ("train", "val", "test") for t in data.splits[s].tokens]
    assert max(len(t) for t in all_tokens) == 10
    lengths_seen = sorted(v for s in ("train", "val", "test") for v in data.splits[s].extra["length"])
    assert lengths_seen == sorted(lengths)  # the full lengths are kept for `core embed`
    with pytest.raises(UserError, match="f:r1: 12 residues, longer than --max-length 10"):
        build(records, [r.id for r in records], Options(max_length=10, long_policy="error"), Problems("error"), 0,
              "t", "src")
    skipped = build(records, [r.id for r in records], Options(max_length=10, long_policy="error"),
                    Problems("skip"), 0, "t", "src")
    assert [w for w, _ in skipped.skipped] == ["f:r1", "f:r2", "f:r5", "f:r9"]
