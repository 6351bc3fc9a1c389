import argparse

import pytest

import config
from src.config.overrides import ConfigError, apply_model_size, apply_overrides, parse_with_config


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


def entry_parser(*own_options):
    parser = argparse.ArgumentParser(prog="entry", allow_abbrev=False)
    parser.add_argument("--audio", nargs="*")
    parser.add_argument("--model_size")
    for option in own_options:
        parser.add_argument(option, type=int, default=1)
    return parser


def test_parsed_keys_apply_in_command_line_order_after_the_model_size():
    args, cfg = parse_with_config(entry_parser(), config.train_config,
                                  ["--audio", "a.wav", "b.wav", "--hidden_size", "320", "--model_size", "small",
                                   "--batch_size=3", "--DataConfig.batch_size", "5", "--gain_min", "-9"])
    assert args.audio == ["a.wav", "b.wav"] and not hasattr(args, "config_overrides")
    assert (cfg.ModelConfig.hidden_size, cfg.ModelConfig.hidden_layers) == (320, 3)  # small, but 320 wide
    assert cfg.DataConfig.batch_size == 5 and cfg.DataConfig.AugmentationConfig.gain_min == -9.0
    assert config.train_config.DataConfig.batch_size == 20


def test_the_entry_points_own_option_keeps_its_name():
    args, cfg = parse_with_config(entry_parser("--batch_size"), config.eval_config,
                                  ["--batch_size", "4", "--DataConfig.batch_size", "8"])
    assert args.batch_size == 4 and cfg.DataConfig.batch_size == 8


@pytest.mark.parametrize("argv, message", [
    (["--bach_size", "8"], "unknown option or config key --bach_size (did you mean --batch_size?)"),
    (["--batch_size", "eight"], "--DataConfig.batch_size: 'eight' is not a valid int"),
    (["--batch_size", "0", "--noise_prob", "2"], "--DataConfig.batch_size 0 must be >= 1; "
                                                 "--DataConfig.AugmentationConfig.noise_prob 2.0 must be between 0 and 1"),
])
def test_mistakes_are_one_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_with_config(entry_parser(), config.train_config, argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.splitlines()[-1] == f"entry: error: {message}"
    assert len(err.splitlines()) <= 3  # the usage line names the entry point's own options only
