"""Choosing the device and execution mode, with one clear sentence when a backend is missing."""
import ctypes.util
import os

from src.common.errors import DeviceError

DEVICES = ("CPU", "GPU", "Ascend")


def setup_device(device_target: str = "CPU", device_id: int = 0, graph_mode: bool = True) -> None:
    """Graph mode on the requested device (graph mode is ~10x faster than PyNative here)."""
    import mindspore as ms  # here, not at the top: transcribe.py --onnx parses --device_target without MindSpore

    if device_target not in DEVICES:
        raise DeviceError(f"--device_target {device_target!r}: choose one of {', '.join(DEVICES)}")
    missing = _missing_backend(device_target)
    if missing:
        raise DeviceError(f"device {device_target} is not usable here: {missing}. Use --device_target CPU.")
    ms.set_context(mode=ms.GRAPH_MODE if graph_mode else ms.PYNATIVE_MODE)
    try:
        if device_target == "CPU":
            ms.set_device("CPU")
        else:
            ms.set_device(device_target, device_id)
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        hint = (" MindSpore's GPU backend needs CUDA 11.1/11.6 with cuDNN 8." if device_target == "GPU"
                else " MindSpore's Ascend backend needs the CANN toolkit." if device_target == "Ascend" else "")
        raise DeviceError(f"device {device_target} is not usable with this MindSpore install "
                          f"({first}).{hint} Use --device_target CPU.") from None


def _missing_backend(device_target: str) -> str:
    """Checked before MindSpore tries, so the user reads one sentence instead of a log dump."""
    if device_target == "GPU" and not (ctypes.util.find_library("cuda") and ctypes.util.find_library("cudart")):
        return ("no CUDA driver/runtime libraries were found (MindSpore's GPU backend needs "
                "CUDA 11.1 or 11.6 with cuDNN 8 on LD_LIBRARY_PATH)")
    if device_target == "Ascend" and not (os.environ.get("ASCEND_HOME_PATH") or os.path.isdir("/usr/local/Ascend")):
        return "no Ascend CANN toolkit was found (ASCEND_HOME_PATH is unset and /usr/local/Ascend is missing)"
    return ""


def add_device_args(parser) -> None:
    """The zoo's --device_target flag (CPU by default here: it is the backend that runs everywhere)."""
    parser.add_argument("--device_target", default="CPU", choices=DEVICES, help="device (default: CPU)")
    parser.add_argument("--device_id", type=int, default=int(os.environ.get("DEVICE_ID", 0)),
                        help="device index for GPU/Ascend")
