"""Impossible values are named, with what is allowed; the defaults and sensible values pass."""
import pytest

import config
from src.config.overrides import apply_overrides
from src.config.checks import RULES, config_problems


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
    ("--ckpt_file_name_prefix=a/b", "--CheckpointConfig.ckpt_file_name_prefix 'a/b' must be a non-empty file name"),
    ("--gain_min=10", "--DataConfig.AugmentationConfig.gain_min (10.0) must not exceed "
                      "--DataConfig.AugmentationConfig.gain_max (8.0)"),
])
def test_each_impossible_value_is_named(override, problem):
    assert config_problems(apply_overrides(config.train_config, [override])) == [problem]


def test_every_rule_names_a_real_key():
    leaves = set()

    def walk(tree, prefix=""):
        for key, value in tree.items():
            walk(value, f"{prefix}{key}.") if isinstance(value, dict) else leaves.add(prefix + key)
    walk(config.train_config)
    walk(config.eval_config)
    assert set(RULES) - leaves == set()
