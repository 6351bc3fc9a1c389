"""Data-parallel set-up under MindSpore's own launcher (msrun) or mpirun.

The launcher starts one process per device; each calls ``init_distributed`` after choosing its
device. What is data-parallel elsewhere: ``make_batches`` gives each rank its slice of every
global batch, ``TrainStep`` averages gradients (and the reported loss) over the ranks, and only
rank 0 writes checkpoints, the best model and metrics.
"""
import os
from typing import Tuple

import mindspore as ms


class DistributedError(ValueError):
    """A distributed run that cannot start (no launcher, collectives failed): a user-fixable error."""


def local_device_id(default: int = 0) -> int:
    """The device this process drives: msrun exports DEVICE_ID (the local rank), mpirun its local rank."""
    for name in ("DEVICE_ID", "OMPI_COMM_WORLD_LOCAL_RANK"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return default


def init_distributed() -> Tuple[int, int]:
    """Initialise collectives and data-parallel mode; returns (rank, group size)."""
    from mindspore.communication import get_group_size, get_rank, init

    if not (os.environ.get("MS_ROLE") or os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("RANK_TABLE_FILE")):
        raise DistributedError("--is_distributed needs a launcher: run it under msrun "
                           "(scripts/run_distribute_train_*.sh)")
    try:
        init()
    except RuntimeError as err:
        raise DistributedError(f"--is_distributed: the collective set-up failed ({str(err).splitlines()[0]}); "
                           "check the launcher's logs") from err
    rank, size = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=size)
    return rank, size
