"""``core prepare``: a corpus written once as litdata shards, read back by ``core.shards``.

Shards of a small synthetic ECG corpus must give what the in-memory reader gives for the same
records (sizes, InputSpec, labels, splits, normalised arrays, statistics); an interrupted
prepare resumes and never leaves a folder :func:`core.shards.is_shards` accepts; the real CLI
fails with one line; memory stays flat from N to 4N records.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import core.prepare as prepare_mod
from core.errors import UserError
from core.prepare import prepare
from core.sampling import EpochSampler
from core.shards import ChannelStats, is_shards, open_shards, stream_order
from core.testing import assert_ok, assert_user_error, isolated_plugin_manager, run_cli

pytest.importorskip("litdata")
ecg_plugin = pytest.importorskip("core_ecg.plugin")
from core_ecg import preprocess  # noqa: E402
from core_ecg.datasets import load_records  # noqa: E402
from core_ecg.synthetic import write_wfdb, write_wfdb_dir  # noqa: E402


@pytest.fixture
def pm():
    return isolated_plugin_manager(("ecg", ecg_plugin))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def items(split) -> np.ndarray:
    return np.stack([split[i][0].numpy() for i in range(len(split))])


def test_labelled_shards_equal_the_in_memory_reader(tmp_path, rng, pm):
    raw = write_wfdb_dir(tmp_path / "wfdb", rng, n=24, length=400)
    meta = prepare(pm, plugin="ecg", data=raw, out=tmp_path / "shards", num_workers=2)
    assert is_shards(tmp_path / "shards") and meta["num_samples"] == 24
    shards, memory = open_shards(tmp_path / "shards"), load_records(str(raw))
    assert shards.input_spec == memory.input_spec and shards.task == memory.task
    for name in ("train", "val", "test", "pretrain"):
        a, b = shards.splits[name], memory.splits[name]
        assert a.ids == b.ids, name
        assert np.allclose(items(a), b.x, atol=1e-5), name
        assert (a.targets is None) == (b.targets is None) and (a.targets is None or (a.targets == b.targets).all())
        assert [int(a[i][2]) for i in range(len(a))] == list(range(len(a)))  # split positions, as ArrayDataset
    # statistics: fitted on train in one streaming pass, equal to the in-memory standardiser's
    import wfdb

    train = [wfdb.rdrecord(str(raw / r)).p_signal.T[:, :400] for r in memory.splits["train"].ids]
    mean, std = preprocess.fit_standardiser(train)
    assert np.allclose(meta["normalisation"]["train"]["mean"], mean, atol=1e-5)
    assert np.allclose(meta["normalisation"]["train"]["std"], std, rtol=1e-5)
    assert shards.splits["train"].raw_features().shape == (len(shards.splits["train"]), 2 * 400)


def test_unlabelled_npy_shards_equal_the_in_memory_pool(tmp_path, rng, pm):
    folder = tmp_path / "arrays"
    folder.mkdir()
    x = rng.standard_normal((700, 3, 120)).astype(np.float32) * np.array([1, 5, 0.2])[:, None]
    np.save(folder / "x.npy", x)
    meta = prepare(pm, plugin="ecg", data=folder, out=tmp_path / "shards", unlabelled=True, num_workers=2)
    assert meta["task"] is None and meta["splits"] == {"pretrain": 700}
    shards, memory = open_shards(tmp_path / "shards", unlabelled=True), load_records(str(folder), unlabelled=True)
    assert shards.task is None and all(len(shards.splits[s]) == 0 for s in ("train", "val", "test"))
    pool = shards.splits["pretrain"]
    assert pool.ids == memory.splits["pretrain"].ids and pool.targets is None
    assert np.allclose(items(pool), memory.splits["pretrain"].x, atol=1e-5)
    assert int(pool[0][1]) == -1
    mean, std = preprocess.fit_standardiser(list(x.astype(np.float64)))
    assert np.allclose(meta["normalisation"]["all"]["mean"], mean, atol=1e-6)
    assert np.allclose(meta["normalisation"]["all"]["std"], std, rtol=1e-6)


def test_channel_stats_merge_in_any_order_equals_one_pass(rng):
    records = [rng.standard_normal((2, n)) * 3 + 7 for n in (5, 50, 17, 1)]
    a, b = ChannelStats(2), ChannelStats(2)
    for r in records:
        a.merge(*ChannelStats.of(r))
    for r in reversed(records):
        b.merge(*ChannelStats.of(r))
    flat = np.concatenate(records, axis=1)
    for s in (a, b):
        mean, std = s.mean_std("x")
        assert np.allclose(mean, flat.mean(1)) and np.allclose(std, flat.std(1))


def test_epoch_sampler_reads_shards_chunk_by_chunk_and_splits_ranks(tmp_path, rng, pm):
    folder = tmp_path / "arrays"
    folder.mkdir()
    np.save(folder / "x.npy", rng.standard_normal((300, 2, 100)).astype(np.float32))
    prepare(pm, plugin="ecg", data=folder, out=tmp_path / "s", unlabelled=True, chunk_bytes="16KB")
    pool = open_shards(tmp_path / "s", unlabelled=True).splits["pretrain"]
    chunks = stream_order(tmp_path / "s")
    assert len(chunks) > 10
    one = EpochSampler(pool, seed=3)
    order = list(one)
    assert sorted(order) == list(range(300)) and order != sorted(order)
    chunk_of = np.searchsorted([a for a, _ in chunks], order, side="right")
    assert (np.diff(chunk_of) != 0).sum() == len(chunks) - 1  # each chunk read once, in one run
    one.set_epoch(1)
    assert list(one) != order
    ranks = [list(EpochSampler(pool, seed=3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 150 and not set(ranks[0]) & set(ranks[1])
    for r in ranks:  # each rank reads a run of whole chunks (at most the two at its ends shared)
        assert (np.diff(np.searchsorted([a for a, _ in chunks], r, side="right")) != 0).sum() <= len(chunks) // 2 + 1


def test_bad_records_skipped_and_listed(tmp_path, rng, pm):
    raw = write_wfdb_dir(tmp_path / "wfdb", rng, n=12, length=300)
    (raw / "rec03.dat").write_bytes(b"\x00")  # truncated signal file
    write_wfdb(raw, "rec05", rng.standard_normal((300, 3)), 250, ("I", "II", "V1"))  # other leads
    with pytest.raises(UserError, match="rec0[35]"):
        prepare(pm, plugin="ecg", data=raw, out=tmp_path / "strict")
    assert not is_shards(tmp_path / "strict")
    meta = prepare(pm, plugin="ecg", data=raw, out=tmp_path / "shards", on_bad_record="skip")
    skipped = " ".join(r for r, _ in meta["skipped"])
    assert "rec03" in skipped and "rec05" in skipped and meta["num_samples"] == 10
    assert len(open_shards(tmp_path / "shards").skipped) == len(meta["skipped"])


def test_interrupted_prepare_resumes_and_is_never_half_written(tmp_path, rng, pm, monkeypatch):
    raw = write_wfdb_dir(tmp_path / "wfdb", rng, n=40, length=200)
    monkeypatch.setattr(prepare_mod, "UNITS_PER_WORKER", 1)
    monkeypatch.setattr("core_ecg.stream.RECORDS_PER_UNIT", 8)  # 5 units, 5 parts with 1 worker
    out = tmp_path / "shards"
    real_write, calls = prepare_mod._write_part, []

    def interrupted(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write(*args, **kwargs)

    monkeypatch.setattr(prepare_mod, "_write_part", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(pm, plugin="ecg", data=raw, out=out, num_workers=1)
    assert not is_shards(out)
    real_check = prepare_mod._check_order
    monkeypatch.setattr(prepare_mod, "_check_order", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):  # interrupted again after the chunks moved, before the metadata
        prepare(pm, plugin="ecg", data=raw, out=out, num_workers=1)
    assert calls == [0, 1, 2, 2, 3, 4]  # parts 0 and 1 were done: not read again
    assert not is_shards(out)
    monkeypatch.setattr(prepare_mod, "_check_order", real_check)
    lines = []
    prepare(pm, plugin="ecg", data=raw, out=out, num_workers=1, echo=lines.append)
    assert is_shards(out) and any("resuming" in line for line in lines)
    assert not (out / prepare_mod.WORK_DIR).exists()
    monkeypatch.setattr(prepare_mod, "_write_part", real_write)
    prepare(pm, plugin="ecg", data=raw, out=tmp_path / "clean", num_workers=2)
    a, b = open_shards(out), open_shards(tmp_path / "clean")
    for name in ("train", "val", "test"):
        assert a.splits[name].ids == b.splits[name].ids
        assert np.array_equal(items(a.splits[name]), items(b.splits[name]))


def test_cli_prepare_and_one_line_errors(tmp_path, rng):
    raw = write_wfdb_dir(tmp_path / "wfdb", rng, n=12, length=200)
    out = tmp_path / "shards"
    result = assert_ok(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", out, "--num-workers", "1",
                               "--length", "150"))
    assert "12 records" in result.stdout
    meta = json.loads((out / "core-shards.json").read_text())
    assert meta["input_spec"]["shape"] == [2, 150] and meta["plugin"] == "ecg" and meta["dataset"] == "ecg/records"
    assert_ok(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", out, "--length", "150"))  # done: no-op
    assert_user_error(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", out), "other arguments")
    assert_user_error(run_cli("prepare", "--plugin", "ecg", "--data", tmp_path / "nope", "--out", tmp_path / "o"),
                      "nope")
    assert_user_error(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", raw.parent), "--out")
    (raw / "labels.csv").unlink()
    assert_user_error(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", tmp_path / "u"),
                      "labels.csv", "--unlabelled")
    assert_ok(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", tmp_path / "u", "--unlabelled"))
    assert_user_error(run_cli("prepare", "--plugin", "ecg", "--data", raw, "--out", tmp_path / "w",
                              "--num-workers", "0"), "--num-workers")
    assert_user_error(run_cli("prepare", "--plugin", "ecg", "--dataset", "ecg/ecg5000", "--data", raw,
                              "--out", tmp_path / "e"), "ecg/ecg5000")


PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_kb(*args) -> int:
    """Peak RSS (kB) of the largest process of ``core ARGS`` (main process or a litdata worker)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "core.cli", *map(str, args)],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return int(out.stdout.split()[-1])


@pytest.mark.slow
def test_prepare_memory_is_flat_in_the_corpus_size(tmp_path, rng):
    peaks = {}
    for n in (400, 1600):  # 4 x 2000 float32 per record: 12.8 MB vs 51 MB of signals
        folder = tmp_path / f"x{n}"
        folder.mkdir()
        x = np.lib.format.open_memmap(folder / "x.npy", "w+", np.float32, (n, 4, 2000))
        for i in range(0, n, 200):
            x[i:i + 200] = rng.standard_normal((min(200, n - i), 4, 2000))
        x.flush()
        del x
        peaks[n] = peak_rss_kb("prepare", "--plugin", "ecg", "--data", folder, "--out", tmp_path / f"s{n}",
                               "--unlabelled", "--num-workers", "2", "--chunk-bytes", "4MB")
    print(f"peak RSS kB: {peaks}")
    assert peaks[1600] < 1.5 * peaks[400], peaks
