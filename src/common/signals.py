"""Stopping training at a step boundary on SIGINT/SIGTERM, so nothing is lost to Ctrl-C or a scheduler.

``train.py`` installs the handlers around training; the loop polls :func:`stop_requested` after
every step and, when set, saves a checkpoint and raises :class:`TrainingInterrupted`, which
``run_main`` turns into one line and the exit code 128 + signal (130 for SIGINT, 143 for
SIGTERM). Further signals while stopping are ignored, so the checkpoint is always completed.

MindSpore's runtime installs its own C-level SIGINT handler at every graph run, which turns
SIGINT into SIGTERM (measured with MindSpore 2.10); both are handled alike, so a Ctrl-C during
training usually reports SIGTERM and exits 143. Data workers killed by a group-wide SIGTERM make
MindSpore log an ``[ERROR] ... Main process will be terminated`` line; the checkpoint is still
written first.
"""
import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

from src.common.errors import TrainingInterrupted  # noqa: F401  (what the loop raises on a stop)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"signum": None}


def _handler(signum: int, frame) -> None:
    if _state["signum"] is not None:
        return  # already stopping (MindSpore also sends SIGTERM when its data workers die)
    _state["signum"] = signum
    print(f"\n{signal.Signals(signum).name} received: saving a checkpoint after this step, then stopping "
          "(SIGKILL stops at once; --resume auto continues from the newest checkpoint)", flush=True)


def stop_requested() -> Optional[int]:
    """The signal that asked training to stop, or None."""
    return _state["signum"]


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM request a graceful stop instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    _state["signum"] = None
    for sig in STOP_SIGNALS:
        signal.signal(sig, _handler)
    try:
        yield
    finally:
        _state["signum"] = None
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
