"""oneDNN's ISA policy: full ISA when no oneDNN convolution runs, AVX2 where a direct Conv2D does, the user's
choice kept; and never oneDNN's reference convolution (ONEDNN_VERBOSE=1 in a subprocess shows what ran)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn

from src.common.cpu_isa import cpu_flags, describe_isa, mindir_has_conv2d

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AVX512 = "avx512f" in cpu_flags()
# the line a network whose convs are MatMuls logs: on an AVX2-only CPU there is nothing to cap at all
FULL_ISA = (f"oneDNN: full ISA ({describe_isa(cpu_flags())}) - convs run as MatMul/DFT" if AVX512 else
            f"oneDNN: full ISA ({describe_isa(cpu_flags())}; no AVX-512, so its convolutions need no cap)")

# One step of a tiny network on 2 x 40 frames, as a user's process would run it: argv = conv_impl,
# "static"/"dynamic" time axis, "train"/"infer", and "late" to build a direct-conv network after it ran.
STEP = """
import sys
import numpy as np
import src
import mindspore as ms
from mindspore import Tensor, nn
from src.model.deepspeech2 import DeepSpeechModel, NetWithLoss
from src.model.shapes import declare_dynamic_time
impl, axis, mode = sys.argv[1:4]
ms.set_context(mode=ms.GRAPH_MODE)
ms.set_device("CPU")
model = DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl=impl)
x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 161, 40)).astype(np.float32))
lengths = Tensor(np.array([40, 31], np.int32))
if mode == "train":
    net = nn.TrainOneStepCell(NetWithLoss(model), nn.SGD(model.trainable_params(), 0.01))
    args = (x, lengths, Tensor(np.array([[1, 2, 28], [3, 28, 28]], np.int32)), Tensor(np.ones(2, np.float32)))
else:
    net, args = model, (x, lengths)
if axis == "dynamic":
    declare_dynamic_time(net, 2, 161, 3 if mode == "train" else 0)
out = net(*args)
print("result", float((out[0] if isinstance(out, tuple) else out).asnumpy().sum()), flush=True)
if "late" in sys.argv:
    DeepSpeechModel(hidden_size=8, hidden_layers=1, conv_impl="direct")
"""


def run_step(*args, user_isa=None):
    """(policy lines the step logged, oneDNN's ISA line, the convolution primitives it ran)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    env["ONEDNN_VERBOSE"] = "1"
    if user_isa:
        env["ONEDNN_MAX_CPU_ISA"] = user_isa
    proc = subprocess.run([sys.executable, "-c", STEP, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0 and "result" in proc.stdout, proc.stderr[-3000:]
    lines = (proc.stdout + proc.stderr).splitlines()
    policy = [line for line in lines if line.startswith("oneDNN:")]
    isa = [line.split("isa:", 1)[1] for line in lines if line.startswith("onednn_verbose") and ",info,cpu,isa:" in line]
    convs = [line for line in lines if ",exec,cpu,convolution," in line]
    assert len(isa) == 1 and any(",exec,cpu,matmul," in line for line in lines), lines[-20:]
    return policy, isa[0], convs


def test_matmul_convs_run_no_onednn_convolution_at_the_full_isa():
    policy, isa, convs = run_step("dft", "dynamic", "train")  # conv_impl dft keeps them under a dynamic axis
    assert convs == [] and policy == [FULL_ISA]
    policy, isa, convs = run_step("auto", "static", "train", "late")
    assert convs == [] and policy[0] == FULL_ISA
    if AVX512:
        assert isa.startswith("Intel AVX-512")
        # a direct Conv2D asked for after oneDNN ran cannot be capped any more: said so, not hidden
        assert len(policy) == 2 and "but oneDNN already runs at the full ISA" in policy[1]


@pytest.mark.parametrize("impl,axis,why", [("direct", "static", "ModelConfig.conv_impl direct"),
                                           ("auto", "dynamic", "conv2 with a dynamic time axis")])
def test_a_direct_conv2d_gets_the_avx2_cap_and_never_the_reference_kernel(impl, axis, why):
    policy, isa, convs = run_step(impl, axis, "train")
    assert convs and not [line for line in convs if "ref" in line.split(",")[6]]
    if AVX512:
        assert policy[-1].startswith(f"oneDNN: capped at AVX2 because {why} runs a direct Conv2D")
        assert isa == "Intel AVX2"


def test_the_users_isa_wins():
    policy, isa, convs = run_step("direct", "static", "infer", user_isa="AVX512_CORE")
    assert policy == ["oneDNN: ONEDNN_MAX_CPU_ISA=AVX512_CORE from the environment (yours: left as set)"]
    if AVX512:
        assert isa.startswith("Intel AVX-512") and convs


def test_cpu_flags_come_from_the_first_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n\n"
                    "processor\t: 1\nflags\t\t: fpu sse\n")
    flags = cpu_flags(str(info))
    assert flags == {"fpu", "sse", "avx2", "avx512f", "avx512_bf16"}
    assert describe_isa(flags) == "AVX-512 + BF16"
    assert describe_isa(flags | {"amx_tile"}) == "AVX-512 + BF16 + AMX"
    assert describe_isa({"avx2"}) == "AVX2"
    assert cpu_flags(str(tmp_path / "missing")) == set()


def test_mindir_has_conv2d_reads_the_graph(tmp_path):
    ms.set_context(mode=ms.GRAPH_MODE)
    for name, net, shape in (("conv", nn.Conv2d(1, 4, 3, has_bias=False), (1, 1, 8, 8)),
                             ("dense", nn.Dense(8, 4), (2, 8))):
        ms.export(net, Tensor(np.ones(shape, np.float32)), file_name=str(tmp_path / name), file_format="MINDIR")
    for chunk in (5, 1 << 24):  # a small chunk: the name may straddle two reads
        assert mindir_has_conv2d(str(tmp_path / "conv.mindir"), chunk)
        assert not mindir_has_conv2d(str(tmp_path / "dense.mindir"), chunk)
