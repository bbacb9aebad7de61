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
