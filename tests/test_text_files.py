"""core.io.open_text / read_text: plain or gzipped text, with one-line errors naming the file."""
import gzip

import pytest

from core.errors import UserError
from core.io import open_text, read_text


def test_plain_and_gzipped_files_read_the_same(tmp_path):
    (tmp_path / "a.tsv").write_text("x\ty\n1\t2\n")
    with gzip.open(tmp_path / "a.tsv.GZ", "wt") as f:
        f.write("x\ty\n1\t2\n")
    assert read_text(tmp_path / "a.tsv", "hint") == read_text(tmp_path / "a.tsv.GZ", "hint") == "x\ty\n1\t2\n"
    with open_text(tmp_path / "a.tsv.GZ") as f:
        assert f.readline() == "x\ty\n"
    (tmp_path / "bom.csv").write_bytes("\ufeffid,y\r\n".encode())
    assert read_text(tmp_path / "bom.csv", "hint", encoding="utf-8-sig", newline="") == "id,y\r\n"


def test_unreadable_files_are_one_error_naming_them(tmp_path):
    with pytest.raises(UserError, match=r"missing.txt: cannot open \(No such file or directory\)"):
        open_text(tmp_path / "missing.txt")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(UserError, match=r"latin.txt: cannot read as UTF-8 text \(UnicodeDecodeError: .*\); pass a FASTA"):
        read_text(tmp_path / "latin.txt", "pass a FASTA")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(b"abc" * 100)[:20])
    with pytest.raises(UserError, match=r"cut.gz: cannot read as UTF-8 text \(EOFError"):
        read_text(tmp_path / "cut.gz", "hint")


def test_write_marked_section_replaces_only_its_own_section(tmp_path):
    from core.io import write_marked_section

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n<!-- other:start -->\nkeep me\n<!-- other:end -->\n")
    write_marked_section(doc, "mine", "first table", heading="## Mine")
    write_marked_section(doc, "mine", "second table", heading="## Mine")
    text = doc.read_text()
    assert text.count("<!-- mine:start -->") == 1 and text.count("## Mine") == 1
    assert "second table" in text and "first table" not in text and "keep me" in text
    assert text.startswith("# Benchmarks\n\nintro")
    write_marked_section(tmp_path / "new.md", "mine", "x")
    assert (tmp_path / "new.md").read_text() == "<!-- mine:start -->\nx\n<!-- mine:end -->\n"
