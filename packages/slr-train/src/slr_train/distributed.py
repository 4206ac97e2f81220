"""torch.distributed from torchrun's environment: init, rank helpers, collectives, clean teardown.

Single-process runs (no ``WORLD_SIZE`` in the environment) need no process group: every helper
here then degrades to the local answer, so the same code runs with 1 or N processes.
"""

from __future__ import annotations

import datetime
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the run: ``device`` is ``cuda:<local_rank>`` or ``cpu``."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(backend: str | None = None, timeout_s: float = 1800.0, use_cuda: bool | None = None) -> DistEnv:
    """Initialises the default process group from torchrun's ``RANK``/``WORLD_SIZE``/``MASTER_*``.

    ``backend`` defaults to ``nccl`` when CUDA is used and ``gloo`` otherwise. Without
    ``WORLD_SIZE`` (a plain ``python`` launch) nothing is initialised. Already initialised groups
    are reused.
    """
    world_size = env_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda is None:
        use_cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if is_initialized():
        return DistEnv(dist.get_rank(), local_rank, dist.get_world_size(), dist.get_backend(), device)
    if world_size <= 1 and "MASTER_ADDR" not in os.environ:
        return DistEnv(0, 0, 1, None, device)
    backend = backend or ("nccl" if use_cuda else "gloo")
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE={world_size} but {missing} unset: launch with torchrun "
                           "(python -m torch.distributed.run) or slr_train.launch.launch_local")
    dist.init_process_group(backend=backend, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return DistEnv(rank, local_rank, world_size, backend, device)


def destroy_distributed() -> None:
    """Destroys the default group if one exists (also DeepSpeed's communication layer)."""
    if not is_initialized():
        return
    try:
        import sys

        if "deepspeed" in sys.modules:
            import deepspeed.comm as ds_comm

            if ds_comm.is_initialized():
                ds_comm.destroy_process_group()
    finally:
        if is_initialized():
            dist.destroy_process_group()


@contextmanager
def distributed_session(backend: str | None = None, timeout_s: float = 1800.0,
                        use_cuda: bool | None = None) -> Iterator[DistEnv]:
    """``with distributed_session() as env:`` initialises and always tears the group down.

    On a normal exit every rank first meets the others at a barrier, so no rank closes its gloo
    connections while another still has a collective (e.g. DDP's last gradient all-reduce) in
    flight: that race aborted a rank with ``terminate called without an active exception``. After
    an exception there is no barrier (the other ranks may never arrive).
    """
    env = init_distributed(backend, timeout_s, use_cuda)
    try:
        yield env
        barrier()
    finally:
        destroy_distributed()


def barrier() -> None:
    if is_initialized() and get_world_size() > 1:
        dist.barrier()


def _reduce_device() -> torch.device:
    if is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (a copy; float64/int64 recommended for exact counts)."""
    if not (is_initialized() and get_world_size() > 1):
        return values.clone()
    out = values.detach().to(_reduce_device()).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(values.device)


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one rank (one all-reduce)."""
    return bool(all_reduce_sum(torch.tensor([1 if flag else 0], dtype=torch.int64)).item() > 0)


def all_gather_objects(obj: Any) -> list[Any]:
    """Picklable ``obj`` from every rank, indexed by rank (``[obj]`` without a group)."""
    if not (is_initialized() and get_world_size() > 1):
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not (is_initialized() and get_world_size() > 1):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
