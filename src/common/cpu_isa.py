"""Which instruction sets MindSpore's oneDNN may use, chosen per process from what the process will run.

On AVX-512 CPUs MindSpore's CPU ``Conv2D`` runs oneDNN's *reference* convolution (under 1
GFLOP/s). Capping oneDNN at AVX2 gives it an im2col + GEMM kernel instead, but also halves every
MatMul on AVX-512/AMX CPUs (2048^2 fp32, Intel: 114 vs 207 GFLOP/s). On the CPU the network needs
no oneDNN convolution (conv1 is a banded MatMul, conv2 a DFT: ``ModelConfig.conv_impl`` auto), so
the cap is applied only where a direct ``Conv2D`` still runs: ``conv_impl direct``, a dynamic time
axis with ``conv_impl auto`` (conv2 becomes ``Conv2D`` there: less memory), a MINDIR whose graph holds
``Conv2D``.

oneDNN reads its ISA limit lazily (measured with ONEDNN_VERBOSE=1 on MindSpore 2.10 / oneDNN 3.10):
at the first primitive it creates, from ``ONEDNN_MAX_CPU_ISA`` or an earlier
``dnnl_set_max_cpu_isa`` call; after that it is fixed for the process. So the choice is made
when a network is built or its shapes declared, before anything runs, through
``dnnl_set_max_cpu_isa`` of MindSpore's own oneDNN (PyTorch's stays untouched), whose status says
when it is too late. Once capped, a process stays capped: a network built earlier may still need it.
A ``ONEDNN_MAX_CPU_ISA`` the user set always wins. Each change of the choice is logged, one line.
"""
import ctypes
import functools
import glob
import os
import sys
from typing import FrozenSet, Optional

ENV = "ONEDNN_MAX_CPU_ISA"
_DNNL_AVX2 = 0x7  # dnnl_cpu_isa_avx2 (oneDNN 2.x and 3.x)

_state = {"choice": "", "line": "", "env_set_by_us": None}


@functools.lru_cache(maxsize=None)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> FrozenSet[str]:
    """The CPU's feature flags (``avx512f``, ``amx_tile`` ...), from the first ``flags`` line; empty if unknown.
    Read once per process (and file): the CPU does not change under a running process."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def describe_isa(flags: FrozenSet[str]) -> str:
    """The widest vector ISA oneDNN can use on a CPU with these flags, in words."""
    if "avx512f" not in flags:
        return "AVX2" if "avx2" in flags else "no AVX2"
    extras = [name for flag, name in (("avx512_bf16", "BF16"), ("amx_tile", "AMX")) if flag in flags]
    return " + ".join(["AVX-512"] + extras)


def user_isa() -> Optional[str]:
    """The user's own ``ONEDNN_MAX_CPU_ISA`` (or oneDNN's older ``DNNL_MAX_CPU_ISA``) as ``NAME=value``;
    None if unset, or if it is the value this module set."""
    for name in (ENV, "DNNL_MAX_CPU_ISA"):
        value = os.environ.get(name)
        if value is not None and not (name == ENV and value == _state["env_set_by_us"]):
            return f"{name}={value}"
    return None


def choose_onednn_isa(direct_conv: bool, why: str = "") -> str:
    """Cap MindSpore's oneDNN at AVX2 if a direct ``Conv2D`` will run (``why`` says which) on this
    AVX-512 CPU, else leave it the full ISA. Logs the line (to stderr) when the choice changes; returns
    the line of the choice in force.

    Call before the network first runs. Only the CPU backend is concerned.
    """
    import mindspore as ms

    if ms.get_context("device_target") != "CPU":
        return ""
    flags = cpu_flags()
    users = user_isa()
    if users is not None:
        return _log("user", f"oneDNN: {users} from the environment (yours: left as set)")
    if "avx512f" not in flags:
        return _log("plain", f"oneDNN: full ISA ({describe_isa(flags)}; no AVX-512, so its convolutions need no cap)")
    if not direct_conv:
        if _state["choice"] == "capped":  # sticky: an earlier network may still run Conv2D
            return _state["line"]
        return _log("full", f"oneDNN: full ISA ({describe_isa(flags)}) - convs run as MatMul/DFT")
    if _state["choice"] == "capped":
        return _state["line"]
    status = _set_max_isa(_DNNL_AVX2)
    if status is None:  # MindSpore's oneDNN not found: the variable works too, if nothing ran yet
        os.environ[ENV] = _state["env_set_by_us"] = "AVX2"
    elif status != 0:
        return _log("late", f"oneDNN: {why} runs a direct Conv2D, but oneDNN already runs at the full ISA "
                            f"({describe_isa(flags)}): its reference convolution will be slow; set {ENV}=AVX2 "
                            "for such runs")
    return _log("capped", f"oneDNN: capped at AVX2 because {why} runs a direct Conv2D (oneDNN's AVX-512 "
                          "convolution here is its reference kernel; MatMuls run at AVX2 speed)")


def isa_in_force() -> str:
    """What MindSpore's oneDNN runs at in this process, for reports: the user's setting, the AVX2 cap,
    or the full ISA of this CPU (in words)."""
    users = user_isa()
    if users is not None:
        return users
    if _state["choice"] == "capped":
        return "AVX2 (capped: a direct Conv2D runs)"
    return f"full ({describe_isa(cpu_flags())})"


def mindir_has_conv2d(path: str, chunk: int = 1 << 24) -> bool:
    """Whether a MINDIR file's graph holds a ``Conv2D`` op (its node types are plain strings in the file)."""
    needle, tail = b"Conv2D", b""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                return False
            if needle in tail + block:
                return True
            tail = block[-len(needle):]


def _set_max_isa(isa: int) -> Optional[int]:
    """``dnnl_set_max_cpu_isa`` of MindSpore's bundled oneDNN: 0 if set, nonzero if oneDNN already
    fixed its ISA (it has run), None if the library is not found."""
    import mindspore as ms

    libs = sorted(glob.glob(os.path.join(os.path.dirname(ms.__file__), "lib", "libdnnl.so*")))
    try:
        return int(ctypes.CDLL(libs[-1]).dnnl_set_max_cpu_isa(isa)) if libs else None
    except (OSError, AttributeError):
        return None


def _log(choice: str, line: str) -> str:
    if _state["choice"] != choice:
        _state.update(choice=choice, line=line)
        print(line, file=sys.stderr, flush=True)
    return line
