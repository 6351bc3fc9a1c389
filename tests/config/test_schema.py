"""The zoo's config keys and defaults are pinned; the settings objects are views of the one schema."""
import json
import os
from dataclasses import fields

import pytest

import config
from src.config.schema import (KEYS, MODEL_SIZES, EvalConfig, LMConfig, Section, SpectConfig, TrainConfig,
                               eval_tree, train_tree)
from src.data.augment import AugmentParams
from src.data.features import SpectParams
from src.data.labels import DEFAULT_LABELS_PATH
from src.data.sample_check import SamplePolicy
from src.decoding.beam import BeamSettings
from tests.test_import_graph import framework_chain, src_modules

LABELS = "<labels>"  # stands for the absolute labels.json beside the code

SPECT = {"sample_rate": 16000, "window_size": 0.02, "window_stride": 0.01, "window": "hamming", "n_mels": 0,
         "normalize": "utterance"}
MODEL = {"rnn_type": "LSTM", "hidden_size": 1024, "hidden_layers": 5, "lookahead_context": 20,
         "activation": "tanh", "rnn_batch_norm": False, "conv_impl": "auto", "fc_batch_norm": False}

# Written out by hand, in order: a key renamed, dropped, moved or given another default fails here.
ZOO_TRAIN = {
    "TrainingConfig": {"epochs": 70, "seed": 1, "log_interval": 1, "run_dir": "", "tensorboard": False,
                       "max_nonfinite_steps": 20, "memory_check": True},
    "DataConfig": {
        "train_manifest": "data/libri_train_manifest.csv", "val_manifest": "", "batch_size": 20,
        "labels_path": LABELS, "num_workers": 2, "feature_cache_dir": "", "max_duration": 0.0, "pad_multiple": 64,
        "max_static_shapes": 8, "bucket_pool": 0, "sortagrad": False, "label_pad_length": 0, "on_bad_sample": "skip",
        "convert_audio": True, "SpectConfig": SPECT,
        "AugmentationConfig": {
            "speed_volume_perturb": False, "speed_min": 0.9, "speed_max": 1.1, "gain_min": -6.0, "gain_max": 8.0,
            "spec_augment": False, "freq_masks": 2, "freq_mask_width": 15, "time_masks": 2,
            "time_mask_ratio": 0.05, "noise_dir": "", "noise_prob": 0.4, "noise_min": 0.0, "noise_max": 0.5,
            "vtlp": False, "vtlp_min": 0.9, "vtlp_max": 1.1},
    },
    "ModelConfig": MODEL,
    "OptimConfig": {"optimizer": "adam", "learning_rate": 3e-4, "lr_schedule": "zoo", "warmup_steps": 0,
                    "learning_anneal": 1.1, "weight_decay": 1e-5, "momentum": 0.9, "eps": 1e-8,
                    "betas": [0.9, 0.999], "loss_scale": 1024, "epsilon": 1e-5, "max_grad_norm": 400.0,
                    "accum_grad": 1},
    "CheckpointConfig": {"ckpt_file_name_prefix": "DeepSpeech", "ckpt_path": "./checkpoint",
                         "keep_checkpoint_max": 10, "save_checkpoint_steps": 0},
}
ZOO_EVAL = {
    "save_output": "", "verbose": True,
    "DataConfig": {"test_manifest": "data/libri_test_clean_manifest.csv", "batch_size": 20, "labels_path": LABELS,
                   "num_workers": 2, "pad_multiple": 64, "max_static_shapes": 8, "on_bad_sample": "skip",
                   "convert_audio": True, "SpectConfig": SPECT},
    "ModelConfig": MODEL,
    "LMConfig": {"decoder_type": "greedy", "lm_path": "./3-gram.pruned.3e-7.arpa", "top_paths": 1,
                 "alpha": 1.818182, "beta": 0.0, "cutoff_top_n": 40, "cutoff_prob": 1.0, "beam_width": 1024,
                 "lm_workers": 4, "token_min_logp": -5.0, "beam_prune_logp": -10.0, "unk_score_offset": -10.0},
}


def typed_items(tree, prefix=""):
    """(path, value, type name) of every leaf, in order: 20 and 20.0 are different defaults."""
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += typed_items(value, f"{prefix}{key}.")
        else:
            out.append((prefix + key, value, type(value).__name__))
    return out


@pytest.mark.parametrize("tree, expected", [(config.train_config, ZOO_TRAIN), (config.eval_config, ZOO_EVAL)])
def test_the_zoo_keys_and_defaults_are_kept(tree, expected):
    assert tree.DataConfig.labels_path == DEFAULT_LABELS_PATH and os.path.isabs(DEFAULT_LABELS_PATH)
    tree = json.loads(json.dumps(tree))
    tree["DataConfig"]["labels_path"] = LABELS
    assert typed_items(tree) == typed_items(expected)


def test_zoo_users_read_the_trees_as_before():
    assert config.train_config.DataConfig.batch_size == 20
    assert config.train_config.OptimConfig.betas == [0.9, 0.999]
    assert config.eval_config.LMConfig.beam_width == 1024
    assert config.MODEL_SIZES == MODEL_SIZES == {"full": {"hidden_size": 1024, "hidden_layers": 5},
                                                 "medium": {"hidden_size": 512, "hidden_layers": 4},
                                                 "small": {"hidden_size": 256, "hidden_layers": 3},
                                                 "tiny": {"hidden_size": 64, "hidden_layers": 2}}
    assert config.LABELS_PATH == DEFAULT_LABELS_PATH


def test_each_tree_is_a_fresh_copy():
    tree = train_tree()
    tree.OptimConfig.betas.append(0.5)
    tree.DataConfig.SpectConfig.sample_rate = 8000
    assert train_tree().OptimConfig.betas == [0.9, 0.999] and config.train_config.OptimConfig.betas == [0.9, 0.999]
    assert train_tree().DataConfig.SpectConfig.sample_rate == 16000


def test_every_key_has_a_help_line_and_a_default_of_its_type():
    for key in KEYS.values():
        assert key.help.strip() and "\n" not in key.help, key.path
        assert isinstance(key.default, getattr(key.type, "__origin__", key.type)), key.path
        if key.not_above:
            assert key.not_above in KEYS and key.not_above.rsplit(".", 1)[0] == key.path.rsplit(".", 1)[0]


def test_keys_both_trees_have_are_one_key():
    train_paths = {path for path, _, _ in typed_items(train_tree())}
    eval_paths = {path for path, _, _ in typed_items(eval_tree())}
    assert set(KEYS) == train_paths | eval_paths
    assert "DataConfig.batch_size" in train_paths & eval_paths  # stated once (same_key), listed once


def test_settings_objects_are_views_of_the_schema():
    assert SpectParams() == SpectParams.from_config(config.eval_config.DataConfig.SpectConfig)
    assert [f.name for f in fields(SpectParams)] == [f.name for f in fields(SpectConfig)]
    assert AugmentParams() == AugmentParams.from_config(config.train_config.DataConfig.AugmentationConfig)
    lm = config.eval_config.LMConfig
    assert BeamSettings.from_config(dict(lm, lm_path="")) == BeamSettings(lm_path="")
    assert (BeamSettings().alpha, BeamSettings().beta, BeamSettings().beam_width, BeamSettings().lm_workers) == \
        (lm.alpha, lm.beta, lm.beam_width, lm.lm_workers)
    policy = SamplePolicy.from_config(config.train_config.DataConfig)
    assert policy == SamplePolicy()
    assert (policy.max_duration, policy.max_label_length) == (0.0, 0)
    assert TrainConfig.from_config(config.train_config) == TrainConfig()
    assert EvalConfig.from_config(config.eval_config) == EvalConfig()


def test_views_read_every_key_without_fallback():
    partial = {k: v for k, v in config.eval_config.LMConfig.items() if k != "cutoff_prob"}
    with pytest.raises(KeyError, match="cutoff_prob"):
        BeamSettings.from_config(partial)
    with pytest.raises(KeyError, match="vtlp_max"):
        AugmentParams.from_config({k: v for k, v in config.train_config.DataConfig.AugmentationConfig.items()
                                   if k != "vtlp_max"})
    with pytest.raises(KeyError, match="convert_audio"):
        SamplePolicy.from_config({"on_bad_sample": "skip"})


def test_from_config_converts_to_the_key_types():
    spect = SpectParams.from_config({"sample_rate": 8000.0, "window_size": 1, "window_stride": "0.01", "window": "hann",
                                     "n_mels": 40.0, "normalize": "band"})
    assert (spect.sample_rate, spect.window_size, spect.window_stride, spect.n_mels) == (8000, 1.0, 0.01, 40)
    assert isinstance(spect.sample_rate, int) and isinstance(spect.window_size, float)
    assert isinstance(LMConfig.from_config(dict(config.eval_config.LMConfig, beam_width=8.0)).beam_width, int)
    assert issubclass(SpectParams, Section)


def test_the_schema_does_not_load_mindspore():
    modules = src_modules()
    assert [name for name in modules if name.startswith("src.config")]
    for name in modules:
        if name.startswith("src.config"):
            assert framework_chain(name, modules) is None, name
