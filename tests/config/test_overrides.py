import pytest

import config
from src.config.overrides import ConfigError, apply_model_size, apply_overrides


def test_short_and_full_keys_override_with_types():
    cfg = apply_overrides(config.train_config, ["--batch_size", "8", "--OptimConfig.learning_rate=0.01",
                                                "--spec_augment", "true", "--betas", "[0.8, 0.9]"])
    assert cfg.DataConfig.batch_size == 8 and cfg.OptimConfig.learning_rate == 0.01
    assert cfg.DataConfig.AugmentationConfig.spec_augment is True
    assert cfg.OptimConfig.betas == [0.8, 0.9]
    assert config.train_config.DataConfig.batch_size == 20  # the defaults are untouched


def test_typo_is_an_error_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean --batch_size"):
        apply_overrides(config.train_config, ["--bach_size", "8"])


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match="DataConfig.batch_size"):
        apply_overrides(config.train_config, ["--batch_size", "eight"])


def test_model_sizes():
    cfg = apply_overrides(config.train_config, [])
    apply_model_size(cfg, "small")
    assert (cfg.ModelConfig.hidden_size, cfg.ModelConfig.hidden_layers) == (256, 3)
    assert config.MODEL_SIZES["full"] == {"hidden_size": 1024, "hidden_layers": 5}
