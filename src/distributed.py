"""Data-parallel set-up under MindSpore's own launcher (msrun) or mpirun."""
from typing import Tuple

import mindspore as ms


def init_distributed() -> Tuple[int, int]:
    """Initialise collectives and data-parallel mode; returns (rank, group size)."""
    from mindspore.communication import get_group_size, get_rank, init

    try:
        init()
    except RuntimeError as err:
        raise RuntimeError("--is_distributed needs a launcher: run it under msrun "
                           "(scripts/run_distribute_train_*.sh)") from err
    rank, size = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                 device_num=size)
    return rank, size
