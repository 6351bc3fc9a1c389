"""The MINDIR export: by default one file for any batch size and length, equal to the checkpoint
network within 1e-4, padding included; the fixed shape on request; AIR refused off Ascend in one sentence."""
import os

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms
from mindspore import Tensor, nn

from src.inference.predictor import load_predictor, mindir_input_shape
from tests.export.tiny_checkpoint import NUM_CLASSES, assert_matches_network, padded_batch, write_tiny_checkpoint
from tests.helpers import run_script

# (lengths, extra padding frames past the longest): batch sizes 1 to 5, mixed lengths, equal lengths
# with padding past both, lengths of one and two frames, and a longer batch
BATCHES = [([37], 0), ([120, 61, 9], 0), ([64, 64], 7), ([33, 1, 2, 80], 3), ([410, 300, 222, 97, 50], 0)]
VARIANTS = {  # name: write_tiny_checkpoint options
    "tanh": dict(activation="tanh"),
    "hardtanh+rnn_batch_norm": dict(activation="hardtanh", rnn_batch_norm=True, conv_gain=6.0),
}


@pytest.fixture(scope="module", autouse=True)
def pynative_cpu():
    ms.set_context(mode=ms.PYNATIVE_MODE)  # the reference network runs many shapes once each: no compilation
    ms.set_device("CPU")


@pytest.fixture(scope="module", params=list(VARIANTS))
def exported(request, tmp_path_factory):
    """(checkpoint path, MINDIR path, export.py's stdout) of export.py with no shape options."""
    folder = tmp_path_factory.mktemp("mindir")
    ckpt = write_tiny_checkpoint(str(folder / "tiny.ckpt"), **VARIANTS[request.param])
    proc = run_script("export.py", "--pre_trained_model_path", ckpt, timeout=300)
    return ckpt, str(folder / "tiny.mindir"), proc.stdout


@pytest.fixture(scope="module")
def networks(exported):
    """(MINDIR graph, checkpoint network with its default conv2: the DFT one on the CPU)."""
    ckpt, mindir, _ = exported
    return nn.GraphCell(ms.load(mindir)), load_predictor(ckpt, NUM_CLASSES)[0]


def test_the_default_export_takes_any_batch_and_length(exported):
    _, mindir, stdout = exported
    assert mindir_input_shape(mindir) == (None, 1, 161, None)
    assert f"input [batch, 1, 161, frames] float32 + lengths [batch] int32 -> {mindir} (dynamic" in stdout


@pytest.mark.parametrize("lengths, extra", BATCHES)
def test_dynamic_mindir_equals_the_checkpoint_network(networks, lengths, extra):
    graph, predictor = networks
    x, lens = padded_batch(lengths, extra=extra)
    probs, out_lengths = (t.asnumpy() for t in graph(Tensor(x), Tensor(lens)))
    ref_probs, ref_lengths = (t.asnumpy() for t in predictor(Tensor(x), Tensor(lens)))
    assert_matches_network(probs, out_lengths, ref_probs, ref_lengths)


def test_padding_does_not_change_an_utterance(networks):
    graph, _ = networks
    x, lens = padded_batch([150, 41, 90], extra=12, seed=3)
    probs, out_lengths = (t.asnumpy() for t in graph(Tensor(x), Tensor(lens)))
    for row, frames in enumerate(lens):
        one = np.ascontiguousarray(x[row:row + 1, :, :, :frames])
        alone, alone_lengths = graph(Tensor(one), Tensor(lens[row:row + 1]))
        valid = int(out_lengths[row])
        assert valid == int(alone_lengths.asnumpy()[0]) == alone.shape[1]
        # fp32 rounding only (which oneDNN conv kernel runs depends on what the process ran first); padding
        # leaking into an utterance moves probabilities by orders of magnitude more
        np.testing.assert_allclose(probs[row, :valid], alone.asnumpy()[0], rtol=0, atol=3e-5)


@pytest.mark.parametrize("exported", ["tanh"], indirect=True)
def test_check_export_compares_a_dynamic_file_at_several_shapes(exported, tmp_path):
    ckpt, mindir, _ = exported
    proc = run_script("-m", "src.tools.check_export", "--ckpt", ckpt, "--mindir", mindir, "--input_frames", "90",
                      timeout=300)
    checked = [line for line in proc.stdout.splitlines() if line.startswith("  batch ")]
    assert len({line.split(",")[0] for line in checked}) >= 3 and any("90 frames" in line for line in checked)
    assert proc.stdout.splitlines()[-1].endswith("-> OK")
    other = write_tiny_checkpoint(str(tmp_path / "other.ckpt"), seed=1)  # same size, other weights
    mismatch = run_script("-m", "src.tools.check_export", "--ckpt", other, "--mindir", mindir, check=False,
                          timeout=300)
    assert mismatch.returncode == 1 and mismatch.stdout.splitlines()[-1].endswith("-> MISMATCH")


@pytest.mark.parametrize("exported", ["tanh"], indirect=True)
def test_the_fixed_shape_on_request(exported, tmp_path):
    ckpt, _, _ = exported
    fixed = str(tmp_path / "fixed")
    proc = run_script("export.py", "--pre_trained_model_path", ckpt, "--dynamic", "false", "--input_frames", "64",
                      "--file_name", fixed, timeout=300)
    assert f"input [1, 1, 161, 64] float32 + lengths [1] int32 -> {fixed}.mindir\n" in proc.stdout
    assert mindir_input_shape(fixed + ".mindir") == (1, 1, 161, 64)
    for flags, message in ((["--dynamic", "true", "--batch_size", "2"], "use them with --dynamic false"),
                           (["--file_format", "ONNX", "--dynamic", "false"], "the ONNX model always takes any batch")):
        refused = run_script("export.py", "--pre_trained_model_path", ckpt, *flags, "--file_name", fixed + "2",
                             check=False)
        assert refused.returncode == 2 and message in refused.stderr
    assert sorted(os.listdir(tmp_path)) == ["fixed.mindir"]


def test_air_is_refused_off_ascend_in_one_sentence(tmp_path):
    ckpt = write_tiny_checkpoint(str(tmp_path / "tiny.ckpt"))
    proc = run_script("export.py", "--pre_trained_model_path", ckpt, "--file_format", "AIR", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("error: AIR export needs the Ascend backend (--device_target Ascend with the CANN "
                           "toolkit); use --file_format MINDIR or ONNX\n")
    assert sorted(os.listdir(tmp_path)) == ["tiny.ckpt"]
