"""Data-parallel training under torchrun with two CPU processes (gloo)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from models.checkpoint import read_checkpoint
from tests.models.test_neural import write_corpus

SCRIPT = textwrap.dedent("""
    import sys, torch
    from models import corpus_tensors as CT, distributed as D
    from models.train import TrainConfig, train
    from tests.models.test_neural import tiny_configs

    corpus_dir, out, states = sys.argv[1], sys.argv[2], sys.argv[3]
    D.setup("cpu")
    torch.set_num_threads(1)
    cfg = TrainConfig(*tiny_configs(), ae_steps=30, ae_batch=64, pretrain_steps=4, a2l_steps=30, batch=4,
                      lr=3e-3, val_every=29, augment=False, seed=int(sys.argv[4]))
    model = train(CT.load(corpus_dir), out, cfg, report=lambda m: print(m, flush=True))
    torch.save(model.state_dict(), f"{states}/rank{D.rank()}.pt")
    print("world", D.world(), "rank", D.rank(), flush=True)
    D.shutdown()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_torchrun(tmp_path, nproc: int, seed: int = 0) -> tuple[subprocess.CompletedProcess, dict]:
    corpus_dir = tmp_path / "corpus"
    if not corpus_dir.exists():
        corpus_dir.mkdir()
        write_corpus(corpus_dir, n=8)
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    states = tmp_path / f"states{nproc}"
    states.mkdir()
    out = tmp_path / f"m{nproc}.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), str(script), str(corpus_dir), str(out), str(states),
           str(seed)]
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=root)
    return done, {p.stem: torch.load(p, weights_only=True) for p in sorted(states.glob("rank*.pt"))}


def test_two_processes_stay_identical_and_only_rank_0_writes(tmp_path):
    done, states = run_torchrun(tmp_path, 2)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(states) == ["rank0", "rank1"]
    a, b = states["rank0"], states["rank1"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # same steps on every process
    ckpt = read_checkpoint(tmp_path / "m2.pt")
    assert ckpt["extra"]["processes"] == 2
    hist = json.loads(ckpt["extra"]["history"])
    assert hist["autoencoder/train"][-1][1] < hist["autoencoder/train"][0][1]
    # Only rank 0 reports: each progress line appears once.
    assert done.stdout.count("autoencoder 0/30") == 1
    assert "world 2 rank 0" in done.stdout and "world 2 rank 1" in done.stdout


def test_the_processes_see_different_batches(tmp_path):
    """Two processes average gradients of different batches: the result differs from one process's run."""
    one, single = run_torchrun(tmp_path, 1)
    two, double = run_torchrun(tmp_path, 2)
    assert one.returncode == 0 and two.returncode == 0, (one.stderr[-1000:], two.stderr[-1000:])
    a, b = single["rank0"], double["rank0"]
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


@pytest.mark.slow
def test_vasa_rig_train_under_torchrun(tmp_path):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    write_corpus(corpus_dir, n=8)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), "-m", "app", "train", "--data", str(corpus_dir), "--out",
           str(tmp_path / "cli.pt"), "--steps", "2", "--device", "cpu"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "data-parallel over 2 processes" in done.stdout and done.stdout.count("wrote ") == 1
    assert read_checkpoint(tmp_path / "cli.pt")["extra"]["processes"] == 2
