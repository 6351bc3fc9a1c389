"""Impossible values are named, with what is allowed; the defaults and sensible values pass."""
import pytest

import config
from src.config.checks import config_problems
from src.config.overrides import apply_overrides


@pytest.mark.parametrize("tree", [config.train_config, config.eval_config])
def test_the_defaults_pass(tree):
    assert config_problems(tree) == []


@pytest.mark.parametrize("override, problem", [
    ("--learning_rate=-0.1", "--OptimConfig.learning_rate -0.1 must be > 0"),
    ("--batch_size=0", "--DataConfig.batch_size 0 must be >= 1"),
    ("--hidden_size=0", "--ModelConfig.hidden_size 0 must be >= 1"),
    ("--hidden_layers=-2", "--ModelConfig.hidden_layers -2 must be >= 1"),
    ("--window_stride=0", "--DataConfig.SpectConfig.window_stride 0.0 must be > 0"),
    ("--weight_decay=-1", "--OptimConfig.weight_decay -1.0 must be >= 0"),
    ("--noise_prob=1.5", "--DataConfig.AugmentationConfig.noise_prob 1.5 must be between 0 and 1"),
    ("--optimizer=adagrad", "--OptimConfig.optimizer 'adagrad' must be one of adam, adamw, sgd"),
    ("--lr_schedule=step", "--OptimConfig.lr_schedule 'step' must be one of zoo, anneal, cosine, constant"),
    ("--rnn_type=GRU", "--ModelConfig.rnn_type 'GRU' must be one of lstm"),
    ("--betas=[0.9, 1.0]", "--OptimConfig.betas [0.9, 1.0] must be two numbers in [0, 1)"),
    ("--ckpt_file_name_prefix=a/b", "--CheckpointConfig.ckpt_file_name_prefix 'a/b' must be a non-empty file name"),
    ("--gain_min=10", "--DataConfig.AugmentationConfig.gain_min (10.0) must not exceed "
                      "--DataConfig.AugmentationConfig.gain_max (8.0)"),
    ("--speed_min=1.2", "--DataConfig.AugmentationConfig.speed_min (1.2) must not exceed "
                        "--DataConfig.AugmentationConfig.speed_max (1.1)"),
    ("--vtlp_max=0.8", "--DataConfig.AugmentationConfig.vtlp_min (0.9) must not exceed "
                       "--DataConfig.AugmentationConfig.vtlp_max (0.8)"),
])
def test_each_impossible_training_value_is_named(override, problem):
    assert config_problems(apply_overrides(config.train_config, [override])) == [problem]


@pytest.mark.parametrize("overrides, problem", [
    (["--decoder_type=prefix"], "--LMConfig.decoder_type 'prefix' must be one of greedy, beam"),
    (["--beam_width=0"], "--LMConfig.beam_width 0 must be >= 1"),
    (["--cutoff_top_n=0"], "--LMConfig.cutoff_top_n 0 must be >= 1"),
    (["--cutoff_prob=0"], "--LMConfig.cutoff_prob 0.0 must be in (0, 1]"),
    (["--lm_workers=0"], "--LMConfig.lm_workers 0 must be >= 1"),
    (["--beam_width=4", "--top_paths=5"], "--LMConfig.top_paths (5) must not exceed --LMConfig.beam_width (4)"),
    (["--on_bad_sample=ignore"], "--DataConfig.on_bad_sample 'ignore' must be one of skip, error"),
])
def test_each_impossible_evaluation_value_is_named(overrides, problem):
    assert config_problems(apply_overrides(config.eval_config, overrides)) == [problem]


def test_every_problem_is_reported_at_once_ranges_first():
    cfg = apply_overrides(config.train_config, ["--epochs=0", "--noise_min=0.9", "--batch_size=0"])
    assert config_problems(cfg) == [
        "--TrainingConfig.epochs 0 must be >= 1", "--DataConfig.batch_size 0 must be >= 1",
        "--DataConfig.AugmentationConfig.noise_min (0.9) must not exceed --DataConfig.AugmentationConfig.noise_max (0.5)"]


def test_a_value_of_the_wrong_kind_set_in_code_is_a_problem_not_a_crash():
    cfg = apply_overrides(config.train_config, [])
    cfg.DataConfig.batch_size = "twenty"
    cfg.DataConfig.AugmentationConfig.speed_min = None  # a missing value is not checked
    cfg.DataConfig.AugmentationConfig.gain_min = "low"
    assert config_problems(cfg) == [
        "--DataConfig.batch_size 'twenty' must be >= 1",
        "--DataConfig.AugmentationConfig.gain_min (low) must not exceed --DataConfig.AugmentationConfig.gain_max (8.0)"]


def test_keys_a_tree_does_not_have_are_not_checked():
    assert config_problems({"DataConfig": {"batch_size": 4}}) == []
    assert config_problems({"DataConfig": {"batch_size": 0}}) == ["--DataConfig.batch_size 0 must be >= 1"]
