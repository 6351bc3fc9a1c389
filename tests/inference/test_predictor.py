"""The inference network of a checkpoint honours ModelConfig.conv_impl, in the library and in eval.py / export.py.

A seeded random-weight tiny checkpoint stands in for a trained one: conv2 computed directly or through
the DFT must give the same decoded text either way, which random weights check as well as trained ones.
"""
import re

import numpy as np
import pytest

from tests.helpers import fsdd_manifest, random_checkpoint, run_script


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return random_checkpoint(tmp_path_factory.mktemp("model") / "random.ckpt")


def test_load_predictor_builds_the_conv_impl_it_is_given(checkpoint):
    import src  # noqa: F401
    from mindspore import Tensor, nn

    from src.inference.predictor import load_predictor
    from src.model.dft_conv import DFTConv2d

    outputs = {}
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 161, 50)).astype(np.float32))
    lengths = Tensor(np.array([50, 31], np.int32))
    for impl, layer in (("direct", nn.Conv2d), ("dft", DFTConv2d)):
        predictor, hidden, layers = load_predictor(checkpoint, 29, conv_impl=impl)
        assert type(predictor.network.conv.conv2) is layer and (hidden, layers) == (64, 2)
        outputs[impl] = predictor(x, lengths)[0].asnumpy()
    np.testing.assert_allclose(outputs["dft"], outputs["direct"], atol=1e-5)


def test_eval_and_export_run_with_either_conv_impl(checkpoint, tmp_path):
    manifest = fsdd_manifest(str(tmp_path / "data"), per_digit=1)  # 10 clips under a second: static shapes
    lines = {}
    for impl in ("direct", "dft"):
        proc = run_script("eval.py", "--pretrain_ckpt", checkpoint, "--test_manifest", manifest, "--batch_size", "4",
                          "--conv_impl", impl, "--result_file", str(tmp_path / f"{impl}.json"), timeout=600)
        summary = re.findall(r"^Test Summary \tAverage WER \d+\.\d{3}\tAverage CER \d+\.\d{3}\t$", proc.stdout, re.M)
        hyps = [line for line in proc.stdout.splitlines() if line.startswith("Hyp: ")]
        assert len(summary) == 1 and len(hyps) == 10
        lines[impl] = summary + hyps
    assert lines["direct"] == lines["dft"]

    mindir = str(tmp_path / "direct")
    proc = run_script("export.py", "--pre_trained_model_path", checkpoint, "--conv_impl", "direct", "--batch_size", "2",
                      "--input_frames", "80", "--file_name", mindir, timeout=600)
    assert "input [2, 1, 161, 80]" in proc.stdout
    check = run_script("-m", "src.tools.check_export", "--ckpt", checkpoint, "--mindir", mindir + ".mindir",
                       timeout=600)  # the MINDIR's shape; the checkpoint's network with the default (DFT) conv2
    assert "-> OK" in check.stdout
