import os
import subprocess

import numpy as np
import pytest

import src  # noqa: F401
import mindspore as ms

from src.model.checkpoint import (CheckpointError, checkpoint_name, infer_model_shape, list_checkpoints,
                            load_network_params, load_param_dict, prune_checkpoints, read_meta, save_checkpoint)
from src.model.deepspeech2 import DeepSpeechModel


def test_round_trip_with_meta_and_no_temp_files(tmp_path):
    ms.set_seed(0)
    net = DeepSpeechModel(hidden_size=8, hidden_layers=2)
    path = save_checkpoint(net, str(tmp_path / checkpoint_name("DeepSpeech", 2, 13)), {"epoch": 2, "step": 13})
    assert os.path.basename(path) == "DeepSpeech-2_13.ckpt"
    assert os.listdir(tmp_path) == ["DeepSpeech-2_13.ckpt"]
    state = load_param_dict(path)
    assert read_meta(state) == {"epoch": 2, "step": 13}
    assert infer_model_shape(state) == (8, 2)
    other = DeepSpeechModel(hidden_size=8, hidden_layers=2)
    load_network_params(other, state, path)
    for a, b in zip(net.get_parameters(), other.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_other_architecture_is_named(tmp_path):
    net = DeepSpeechModel(hidden_size=8, hidden_layers=2)
    path = save_checkpoint(net, str(tmp_path / "a.ckpt"))
    with pytest.raises(CheckpointError, match="shape mismatch: RNN.lstms.0"):
        load_network_params(DeepSpeechModel(hidden_size=16, hidden_layers=2), load_param_dict(path), path)
    with pytest.raises(CheckpointError, match="missing: RNN.lstms.2"):
        load_network_params(DeepSpeechModel(hidden_size=8, hidden_layers=3), load_param_dict(path), path)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = save_checkpoint(DeepSpeechModel(hidden_size=8, hidden_layers=1), str(tmp_path / "a.ckpt"))
    data = open(path, "rb").read()
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="bad.ckpt"):
        load_param_dict(str(bad))


def test_prune_keeps_the_newest(tmp_path):
    net = DeepSpeechModel(hidden_size=4, hidden_layers=1)
    for epoch, step in [(1, 5), (1, 10), (2, 5), (10, 5)]:
        save_checkpoint(net, str(tmp_path / checkpoint_name("DS", epoch, step)))
    prune_checkpoints(str(tmp_path), "DS", 2)
    assert [(e, s) for e, s, _ in list_checkpoints(str(tmp_path), "DS")] == [(2, 5), (10, 5)]


def test_disk_full_keeps_the_previous_checkpoint_and_leaves_no_partial_file(tmp_path):
    import resource
    import signal

    net = DeepSpeechModel(hidden_size=8, hidden_layers=1)
    first = save_checkpoint(net, str(tmp_path / "DS-1_1.ckpt"))
    before = open(first, "rb").read()
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, limits[1]))  # files stop growing half-way: EFBIG
    try:
        with pytest.raises(CheckpointError, match=r"could not write checkpoint .*DS-1_2\.ckpt \(File too large\); "
                                                  r"the checkpoints already in .* are untouched"):
            save_checkpoint(net, str(tmp_path / "DS-1_2.ckpt"))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert os.listdir(tmp_path) == ["DS-1_1.ckpt"] and open(first, "rb").read() == before


def test_empty_checkpoint_is_named(tmp_path):
    (tmp_path / "e.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"e\.ckpt: the checkpoint file is empty"):
        load_param_dict(str(tmp_path / "e.ckpt"))


def test_partial_files_of_dead_processes_are_removed_on_the_next_save(tmp_path):
    dead = _dead_pid()
    for name in (f".tmp-{dead}-DS-1_1.ckpt", f".tmp-{dead}-DS-1_1.tmp", f".tmp-{os.getppid()}-DS-1_2.ckpt"):
        (tmp_path / name).write_bytes(b"partial")
    save_checkpoint(DeepSpeechModel(hidden_size=4, hidden_layers=1), str(tmp_path / "DS-1_3.ckpt"))
    assert sorted(os.listdir(tmp_path)) == [f".tmp-{os.getppid()}-DS-1_2.ckpt", "DS-1_3.ckpt"]  # the live one stays


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
