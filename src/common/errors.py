"""Turning the errors a user can fix into one sentence and a non-zero exit, not a traceback.

Exit codes: 2 bad input, configuration or checkpoint; 3 training diverged (non-finite steps);
128 + signal (130 SIGINT, 143 SIGTERM) when training stopped on a signal after saving a checkpoint.
"""
import os
import sys
from typing import Callable

from src.model.checkpoint import CheckpointError
from src.config.overrides import ConfigError
from src.common.device import DeviceError
from src.data.features import AudioError
from src.common.signals import TrainingInterrupted
from src.data.labels import LabelError
from src.data.manifest import ManifestError
from src.training.guard import TrainingDiverged

USER_ERRORS = (CheckpointError, ConfigError, DeviceError, AudioError, LabelError, ManifestError,
               FileNotFoundError, ValueError)


def run_main(main: Callable[[], int]) -> int:
    try:
        return main()
    except USER_ERRORS as err:
        if os.environ.get("DS2_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except TrainingInterrupted as err:
        print(str(err), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
