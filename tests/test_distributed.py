"""Two gloo processes on CPU: each rank reads its own part of a streamed pool (every position
once per epoch, up to ``world_size - 1`` left out), and a DDP run over shards ends with the same
projector bank and parameters on both ranks."""
import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from core.prepare import prepare
from core.sampling import EpochSampler
from core.shards import open_shards
from core.testing import TINY_RUN_ARGS as TINY
from core.testing import assert_ok, isolated_plugin_manager, only_run_dir
from core_ecg import plugin
from core_ecg.synthetic import write_ucr

N_RECORDS = 301  # odd: one position is left out each epoch under two ranks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_epochs(rank: int, world: int, port: int, shards: str, out: str) -> None:
    """One rank: join the process group, then open the shards (N from their metadata) and read two
    epochs through the training loader's sampler; rank 0 writes what every rank read."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        pool = open_shards(shards, unlabelled=True).splits["pretrain"]
        sampler = EpochSampler(pool, seed=5, rank=dist.get_rank(), world_size=dist.get_world_size())
        loader = torch.utils.data.DataLoader(pool, batch_size=32, sampler=sampler)
        epochs = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            epochs.append([int(i) for _, _, index in loader for i in index])
        gathered = [None] * world
        dist.all_gather_object(gathered, epochs)
        if rank == 0:
            with open(out, "w") as f:
                json.dump(gathered, f)
    finally:
        dist.destroy_process_group()


@pytest.fixture
def shards(tmp_path):
    folder = tmp_path / "arrays"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.save(folder / "x.npy", rng.standard_normal((N_RECORDS, 1, 48)).astype(np.float32))
    prepare(isolated_plugin_manager(("ecg", plugin)), plugin="ecg", data=folder, out=tmp_path / "shards",
            unlabelled=True, chunk_bytes="8KB", num_workers=1)
    return tmp_path / "shards"


def test_each_rank_reads_its_own_part_every_position_once_per_epoch(shards, tmp_path):
    out = tmp_path / "seen.json"
    mp.spawn(_read_epochs, args=(2, _free_port(), str(shards), str(out)), nprocs=2, join=True)
    ranks = json.loads(out.read_text())  # [rank][epoch] -> positions
    for epoch in range(2):
        a, b = ranks[0][epoch], ranks[1][epoch]
        assert len(a) == len(b) == N_RECORDS // 2
        assert not set(a) & set(b) and len(set(a) | set(b)) == N_RECORDS - 1
    assert ranks[0][0] != ranks[0][1]  # reshuffled each epoch


def test_ddp_run_over_shards_agrees_across_ranks(cli, shards, tmp_path):
    labelled = write_ucr(tmp_path / "ucr", np.random.default_rng(1), n_train=40, n_test=24, length=48)
    out = tmp_path / "runs"
    assert_ok(cli("run", "--plugin", "ecg", "--pretrain-data", shards, "--data", labelled, "--out", out,
                  "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", *TINY))
    run = only_run_dir(out)
    ranks = [json.loads((run / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["projector_bank"] == ranks[1]["projector_bank"]
    assert ranks[0] == ranks[1]
    assert (run / "metrics.json").exists()
