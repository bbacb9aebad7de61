"""core.errors.BadRecords: the one --on-bad-record policy every plugin's readers apply."""
import pytest

from core.errors import SKIP_FIX, BadRecord, BadRecords, UserError


def test_error_mode_raises_one_line_naming_the_record_and_the_fix():
    with pytest.raises(BadRecord) as info:
        BadRecords("error").bad("data.csv:7", "value 'x' is not a number")
    assert str(info.value) == f"data.csv:7: value 'x' is not a number; {SKIP_FIX}"
    assert (info.value.record, info.value.reason, info.value.exit_code) == ("data.csv:7", "value 'x' is not a number", 2)
    with pytest.raises(BadRecord, match="^rec3: no samples; re-export it$"):
        BadRecords().bad("rec3", "no samples", "re-export it")


def test_skip_mode_lists_every_record_for_the_run_folder_and_core_embed():
    problems = BadRecords("skip")
    problems.bad("a.fasta:p1", "residue '9'", id="p1", input_index=0)
    problems.bad("b.wav", "empty audio", path="b.wav")
    assert problems.skipped == [("a.fasta:p1", "residue '9'"), ("b.wav", "empty audio")]
    assert problems.failed == [{"id": "p1", "reason": "residue '9'", "input_index": 0},
                               {"id": "b.wav", "reason": "empty audio", "path": "b.wav"}]


def test_an_unknown_mode_is_a_user_error():
    with pytest.raises(UserError, match="on_bad_record must be 'error' or 'skip', got 'drop'"):
        BadRecords("drop")


@pytest.mark.parametrize("mode", ["error", "skip"])
def test_a_file_not_read_is_listed_in_both_modes_and_is_a_failed_row(mode, caplog):
    problems = BadRecords(mode)
    with caplog.at_level("INFO", logger="core"):
        problems.not_read("corpus/notes.txt", "not a record file; not read")  # never raises
    problems.not_read("corpus/a\nb.mp3", "unsupported type '.mp3'", path="corpus/a\nb.mp3", input_index=7)
    assert problems.skipped == [("corpus/notes.txt", "not a record file; not read"),
                                ("corpus/a\\nb.mp3", "unsupported type '.mp3'")]  # one line per file
    assert problems.failed == [{"id": "corpus/notes.txt", "reason": "not a record file; not read"},
                               {"id": "corpus/a\\nb.mp3", "reason": "unsupported type '.mp3'",
                                "path": "corpus/a\nb.mp3", "input_index": 7}]
    assert "corpus/notes.txt: not a record file; not read" in caplog.text


def _corpus(plugin, folder):
    """A small corpus folder of ``plugin`` read by its ``--data`` dataset: ``(dataset, options)``."""
    import numpy as np

    if plugin == "ecg":
        from core_ecg.synthetic import write_ucr

        write_ucr(folder, np.random.default_rng(0), n_train=12, n_test=8, length=32)
        return "ecg/records", {}
    if plugin == "molecule":
        from core_molecule.synthetic import molecule_table, write_csv

        write_csv(folder / "mols.csv", molecule_table(20, np.random.default_rng(0)), ["compound_id", "SMILES", "logS"])
        return "molecule/file", {}
    if plugin == "protein":
        from core_protein.synthetic import real_peptides, write_fasta

        rows = real_peptides(20)
        write_fasta(folder / "pep.fasta", rows, [f"class={r[2]}" for r in rows])
        return "protein/file", {"label_regex": r"class=(\w+)"}
    if plugin == "pathology":
        from core_pathology.synthetic import write_tile_folder

        write_tile_folder(folder, per_class=6, size=16)
        return "pathology/files", {}
    from core_speech.synthetic import class_folders

    class_folders(folder, speakers=3, per=2)
    return "speech/files", {}


@pytest.mark.parametrize("plugin", ["ecg", "molecule", "protein", "pathology", "speech"])
def test_every_plugin_lists_a_file_it_does_not_read_and_gives_core_embed_a_failed_row(plugin, tmp_path):
    from core.plugins import get_plugin_manager

    folder = tmp_path / "corpus"
    folder.mkdir()
    name, options = _corpus(plugin, folder)
    (folder / "notes.md").write_text("where this came from\n")
    data = get_plugin_manager().get("dataset", name).load(str(folder), seed=0, on_bad_record="error", options=options)
    listed = [(where, why) for where, why in data.skipped if where.endswith("notes.md")]
    assert len(listed) == 1, data.skipped
    rows = [row for row in data.failed if str(row["id"]).endswith("notes.md")]
    assert len(rows) == 1 and rows[0]["reason"] == listed[0][1], data.failed
