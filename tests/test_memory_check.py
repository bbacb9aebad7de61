"""benchmarks/memory_check.py, its pure parts: how a child ended, the table, the docs section
writer and the corpus writer at a tiny size. No `core` subprocess."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def mc(script):
    return script("benchmarks/memory_check.py")


def test_outcome_names_memory_errors_and_signals(mc):
    assert mc.outcome_of(0, "") == "ok"
    assert mc.outcome_of(1, "Traceback...\nMemoryError\n") == "MemoryError"
    assert mc.outcome_of(1, "DefaultCPUAllocator: can't allocate memory: you tried") == "MemoryError"
    assert mc.outcome_of(-9, "") == "killed (SIGKILL)"
    assert mc.outcome_of(2, "error: --data x: no such file") == "exit 2"


def test_table_judges_each_check_and_the_flatness_ratio(mc):
    G = 10 ** 9
    rows = [mc.Measure("(a) core prepare", 400, None, 0, int(1.2 * G), int(0.5 * G), 10.0, "ok"),
            mc.Measure("(b) core run, shards", 400, 2 << 30, 0, int(1.5 * G), int(1.0 * G), 60.0, "ok"),
            mc.Measure("(c) core run, in memory", 400, 2 << 30, 0, int(1.9 * G), int(1.8 * G), 30.0, "ok"),
            mc.Measure("(d) core prepare", 100, None, 0, G, G, 5.0, "ok"),
            mc.Measure("(d) core run, shards", 100, 2 << 30, 0, int(1.5 * G), int(1.0 * G), 20.0, "ok"),
            mc.Measure("(d) core run, shards", 400, 2 << 30, 0, int(1.65 * G), int(1.1 * G), 60.0, "ok")]
    table = mc.render_table(rows, {400: int(0.96 * G), 100: int(0.24 * G)})
    lines = table.splitlines()
    assert lines[2].startswith("| (a) core prepare | 400 | 0.96 | - | ok | 1.20 | 0.50 | 10 |") and lines[2].endswith("| yes |")
    assert lines[3].endswith("| passes under the cap | yes |")
    assert lines[4].endswith("| fails under the cap | NO |")  # the in-memory path passed: the check is not met
    assert "peak RSS 1.10x, peak anon 1.10x; both pass under the same cap" in table
    assert "400 / 100 records (4x the data)" in table


def test_write_docs_replaces_only_its_section(mc, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    mc.write_docs(mc.render_section("| t |", "python benchmarks/memory_check.py", []), doc)
    first = doc.read_text()
    assert first.startswith("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    assert first.count(mc.START) == 1 and "| t |" in first
    mc.write_docs(mc.render_section("| new |", "cmd", ["a note"]), doc)
    second = doc.read_text()
    assert "| t |" not in second and "| new |" in second and "a note" in second
    assert second.count(mc.START) == 1 and second.count(mc.END) == 1
    assert "<!-- other:start -->\nkept\n<!-- other:end -->" in second


def test_corpus_writer_is_seeded_and_labelled(mc, tmp_path):
    a = mc.write_corpus(tmp_path / "a", 5, seed=3, classes=2, shape=(2, 50))
    b = mc.write_corpus(tmp_path / "b", 5, seed=3, classes=2, shape=(2, 50))
    x = np.load(a / "x.npy")
    assert x.shape == (5, 2, 50) and x.dtype == np.float32 and np.isfinite(x).all()
    assert np.array_equal(x, np.load(b / "x.npy"))
    assert set(np.load(a / "y.npy").tolist()) <= {0, 1}
    assert not (mc.write_corpus(tmp_path / "c", 3, seed=0, shape=(2, 50)) / "y.npy").exists()
