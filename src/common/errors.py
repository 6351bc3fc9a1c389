"""The errors a user can fix, and turning them into one sentence and an exit code instead of a traceback.

The exception classes live here, free of MindSpore and numpy, so that any entry point or tool can
use :func:`run_main` without loading the framework; the modules that raise them import them from
here (and keep them importable under their old homes: ``src.model.checkpoint.CheckpointError`` ...).

Exit codes: 2 bad input, configuration, checkpoint or data preparation; 3 training diverged
(non-finite steps); 128 + signal (130 SIGINT, 143 SIGTERM) when training stopped on a signal after
saving a checkpoint; 130 on Ctrl-C elsewhere. ``DS2_DEBUG=1`` shows the traceback of a user error.
"""
import os
import signal
import sys
from typing import Callable


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, does not fit the network, or could not be written."""


class ConfigError(ValueError):
    """A configuration problem the user can fix; the message says which key/value."""


class DeviceError(RuntimeError):
    """The requested device is not usable with this install."""


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file."""


class LabelError(ValueError):
    """labels.json is missing or malformed."""


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file and line."""


class PrepError(RuntimeError):
    """Bad input or a missing tool in data preparation; the message names the path or tool."""


class TrainingDiverged(RuntimeError):
    """Too many non-finite steps in a row; the state before them was saved."""


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int, checkpoint: str):
        name = signal.Signals(signum).name
        where = f"saved {checkpoint}; continue with --resume auto" if checkpoint else "no checkpoint written"
        super().__init__(f"stopped by {name}: {where}")
        self.exit_code = 128 + signum
        self.checkpoint = checkpoint


USER_ERRORS = (CheckpointError, ConfigError, DeviceError, AudioError, LabelError, ManifestError, PrepError,
               OSError, ValueError)


def run_main(main: Callable[[], object], prefix: str = "", resumable: bool = False) -> int:
    """Run an entry point's ``main()`` and return its exit code (0 unless it returns an int).

    A user error becomes ``<prefix>error: <message>`` on stderr and exit code 2. ``prefix`` tags the
    lines of a family of scripts (``"[prep] "``); ``resumable`` says on Ctrl-C that a re-run resumes.
    """
    try:
        code = main()
    except USER_ERRORS as err:
        if os.environ.get("DS2_DEBUG"):
            raise
        print(f"{prefix}error: {err}", file=sys.stderr, flush=True)
        return 2
    except TrainingDiverged as err:
        print(f"{prefix}error: {err}", file=sys.stderr, flush=True)
        return 3
    except TrainingInterrupted as err:
        print(f"{prefix}{err}", file=sys.stderr, flush=True)
        return err.exit_code
    except KeyboardInterrupt:
        hint = "; re-run to resume (finished files are kept)" if resumable else ""
        print(f"{prefix}interrupted{hint}", file=sys.stderr, flush=True)
        return 130
    return code if isinstance(code, int) and not isinstance(code, bool) else 0
