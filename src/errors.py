"""Turning the errors a user can fix into one sentence and a non-zero exit, not a traceback."""
import os
import sys
from typing import Callable

from src.checkpoint import CheckpointError
from src.config_args import ConfigError
from src.device import DeviceError
from src.features import AudioError
from src.labels import LabelError
from src.manifest import ManifestError

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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
