"""Data-parallel training across processes (``torchrun``): gloo on CPU, NCCL on CUDA.

    torchrun --nproc_per_node 2 -m app train --data CORPUS --out model.pt

Every process holds the whole model and draws its own batches (its seed offset by its rank); after each backward
pass the gradients are averaged over the processes, so all of them take the same optimiser step and stay
identical, as with torch's DistributedDataParallel, and the effective batch is the per-process batch times the
number of processes. Only rank 0 reports, validates, writes checkpoints, state and plots. Without torchrun (no
``WORLD_SIZE`` above 1 in the environment) every function here is a no-op and training runs as one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
import torch.distributed as dist


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def setup(device: str) -> str:
    """Join the process group torchrun describes in the environment; returns the device this process trains on
    (``cuda:LOCAL_RANK`` on CUDA). Does nothing outside torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or active():
        return device
    cuda = device.startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return device


def shutdown() -> None:
    if active():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers to every process (same start, whatever each one initialised)."""
    if not active():
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients over the processes, in one flat all-reduce."""
    if not active():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def agree_min(value: int) -> int:
    """The smallest of the processes' values (a step budget fitted to time must end at the same step on all)."""
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.long)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())
