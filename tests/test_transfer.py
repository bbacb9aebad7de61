"""Pretraining on an unlabelled corpus and probing on other labelled ones (issue 14 item 1):
``core run --pretrain-data``, ``core evaluate RUN --data``, ``core.pretrained.load_encoder``/``embed``."""
import json

import numpy as np
import pytest
import torch
import yaml

import core
from core.pretrained import embed, load_encoder
from core.data import ArrayDataset, ChainedPool, join_pools
from core.testing import TINY_RUN_ARGS as TINY, assert_ok, assert_user_error, only_run_dir
from core_ecg.synthetic import write_ucr


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("corpora")
    rng = np.random.default_rng(0)
    labelled = write_ucr(tmp_path / "ucr", rng, n_train=40, n_test=24, length=48)
    other = write_ucr(tmp_path / "other", np.random.default_rng(1), n_train=30, n_test=20, length=48)
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    np.save(unlabelled / "x.npy", rng.standard_normal((70, 1, 48)).astype(np.float32))  # no y.npy
    return labelled, other, unlabelled


@pytest.fixture(scope="module")
def pretrained(corpora, tmp_path_factory):
    from core.testing import run_cli as cli

    labelled, _, unlabelled = corpora
    out = tmp_path_factory.mktemp("runs")
    res = assert_ok(cli("run", "--plugin", "ecg", "--data", labelled, "--pretrain-data", unlabelled,
                        "--out", out, *TINY))
    assert "pretrained encoder" in res.stdout
    return only_run_dir(out)


def test_pretrain_data_joins_the_pool_and_is_reported(pretrained, corpora):
    card = json.loads((pretrained / "card.json").read_text())
    metrics = json.loads((pretrained / "metrics.json").read_text())
    assert card["pretrain_size"] == 70 + 40  # the unlabelled records + the labelled train (no val carved)
    assert metrics["dataset"]["pretrain"]["records"] == 70
    assert "Pretrained on 70 unlabelled records" in (pretrained / "report.md").read_text()
    assert yaml.safe_load((pretrained / "config.yaml").read_text())["pretrain_data"] == str(corpora[2])


def test_pretrain_pool_unlabelled_only(cli, corpora, tmp_path):
    labelled, _, unlabelled = corpora
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", labelled, "--pretrain-data", unlabelled,
                  "--pretrain-pool", "unlabelled", "--out", out, *TINY))
    assert json.loads((only_run_dir(out) / "card.json").read_text())["pretrain_size"] == 70


def test_pretrain_data_errors_are_one_line(cli, corpora, tmp_path):
    labelled, _, unlabelled = corpora
    out = tmp_path / "runs"
    assert_user_error(cli("run", "--plugin", "ecg", "--data", labelled, "--pretrain-data", tmp_path / "nope",
                          "--out", out, *TINY), "--pretrain-data", "no such file")
    assert_user_error(cli("run", "--plugin", "ecg", "--data", labelled, "--pretrain-data", unlabelled,
                          "--objective", "core/supervised", "--out", out, *TINY), "learns from labels")
    longer = tmp_path / "longer"
    longer.mkdir()
    np.save(longer / "x.npy", np.zeros((10, 1, 60), np.float32))
    assert_user_error(cli("run", "--plugin", "ecg", "--data", labelled, "--pretrain-data", longer,
                          "--out", out, *TINY), "[1, 60]", "[1, 48]", "--option KEY=VALUE")
    assert not out.exists() or not any(out.iterdir())  # refused runs leave no folder


def test_evaluate_on_other_labelled_corpora(cli, pretrained, corpora):
    _, other, _ = corpora
    before = (pretrained / "metrics.json").read_bytes()
    earlier = set((pretrained / "transfer").glob("*"))
    res = assert_ok(cli("evaluate", pretrained, "--data", other, "--no-progress"))
    assert "pretrained encoder" in res.stdout and "random-init encoder" in res.stdout and "raw features" in res.stdout
    new = set((pretrained / "transfer").glob("*")) - earlier
    assert len(new) == 1
    folder = new.pop()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["summary"]) == {"pretrained encoder", "random-init encoder", "raw features"}
    assert metrics["dataset"]["sizes"]["test"] == 20 and "/other/" in metrics["dataset"]["source"]
    assert (folder / "report.md").read_text().startswith("# transfer:")
    assert (pretrained / "metrics.json").read_bytes() == before  # the run itself is untouched
    assert_ok(cli("evaluate", pretrained, "--data", other, "--no-progress"))  # probe again: a new folder
    assert len(set((pretrained / "transfer").glob("*")) - earlier) == 2


def test_evaluate_transfer_errors(cli, pretrained, corpora, tmp_path):
    _, other, _ = corpora
    before = set((pretrained / "transfer").glob("*")) if (pretrained / "transfer").exists() else set()
    assert_user_error(cli("evaluate", pretrained, "--data", other, "--option", "length=40"),
                      "[1, 40]", "[1, 48]")
    assert set((pretrained / "transfer").glob("*")) == before  # the failed evaluation left no folder
    assert_user_error(cli("evaluate", pretrained, "--option", "length=40"), "applies to --data")
    config = yaml.safe_load((pretrained / "config.yaml").read_text())
    (pretrained / "config.yaml").write_text(yaml.safe_dump({**config, "data_options": {"length": 40}}))
    try:  # the run's reader options apply to --data too (they fix the input size)
        assert_user_error(cli("evaluate", pretrained, "--data", other), "[1, 40]", "in use: length=40")
    finally:
        (pretrained / "config.yaml").write_text(yaml.safe_dump(config))
    assert_user_error(cli("evaluate", pretrained, "--data", tmp_path / "nope"), "no such file")


def test_python_api_matches_the_run(pretrained):
    loaded = load_encoder(pretrained)
    encoder, spec, card = loaded
    assert isinstance(encoder, torch.nn.Module) and not encoder.training and spec.shape == (1, 48)
    from core.plugins import get_plugin_manager
    from core import runs

    cfg = runs.load_run_config(pretrained)
    test = runs.load_dataset(get_plugin_manager(), cfg, card["seed"]).splits["test"]
    expected = np.load(pretrained / "test_embedding.npy")
    np.testing.assert_allclose(embed(loaded, test), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(embed(encoder, test.x, batch_size=7), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(core.UserError, match="has seeds"):
        load_encoder(pretrained, seed=5)


def test_join_pools_renumbers_indices():
    a = ArrayDataset(np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0, 1, 0]))
    b = ArrayDataset(np.arange(4, dtype=np.float32).reshape(2, 2) + 10)
    joined = join_pools([a, b])
    assert len(joined) == 5 and joined.targets is None and [joined[i][2] for i in range(5)] == list(range(5))

    class Plain(torch.utils.data.Dataset):  # not an array split: chained, not copied
        ids = ["p0", "p1"]

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return torch.full((2,), 100.0 + i), 3, i

    chained = join_pools([a, Plain()])
    assert isinstance(chained, ChainedPool) and len(chained) == 5 and chained.ids[-1] == "p1"
    x, y, i = chained[4]
    assert float(x[0]) == 101.0 and int(y) == -1 and i == 4
    with pytest.raises(IndexError):
        chained[5]


def test_pretrain_data_from_prepared_shards(cli, corpora, tmp_path):
    labelled, other, unlabelled = corpora
    shards = tmp_path / "shards"
    assert_ok(cli("prepare", "--plugin", "ecg", "--data", unlabelled, "--out", shards, "--unlabelled"))
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--data", labelled, "--pretrain-data", shards, "--out", out, *TINY))
    run = only_run_dir(out)
    assert json.loads((run / "card.json").read_text())["pretrain_size"] == 70 + 40
    assert json.loads((run / "metrics.json").read_text())["dataset"]["pretrain"]["records"] == 70


def test_embed_an_unlabelled_corpus_from_files_and_from_shards(cli, pretrained, corpora, tmp_path):
    """`core embed --unlabelled` reads a corpus without labels; its shards give the same rows."""
    _, _, unlabelled = corpora
    assert_user_error(cli("embed", pretrained, "--data", unlabelled, "--out", tmp_path / "x.npz"), "y.npy")
    assert_ok(cli("embed", pretrained, "--data", unlabelled, "--unlabelled", "--out", tmp_path / "files.npz"))
    assert_ok(cli("prepare", "--plugin", "ecg", "--data", unlabelled, "--out", tmp_path / "shards", "--unlabelled"))
    assert_ok(cli("embed", pretrained, "--data", tmp_path / "shards", "--out", tmp_path / "shards.npz"))
    files, shards = np.load(tmp_path / "files.npz"), np.load(tmp_path / "shards.npz")
    assert files["embeddings"].shape == (70, 16) and set(files["split"]) == {"pretrain"}
    assert list(files["ids"]) == list(shards["ids"])
    assert np.allclose(files["embeddings"], shards["embeddings"], atol=1e-4)
