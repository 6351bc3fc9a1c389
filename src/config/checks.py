"""Impossible configuration values, refused in one place when the command line is parsed.

A negative learning rate or a batch of 0 would otherwise surface minutes later (after the data
is scanned and the graph compiled) as an error from deep inside MindSpore, or not at all. Rules
are keyed by the key's path below its section (``DataConfig.batch_size``), so the train and eval
trees share them; a key a tree does not have is simply not checked.
"""
from typing import Any, Callable, Dict, List, Tuple

from src.training.lr_schedule import SCHEDULES

Rule = Tuple[Callable[[Any], bool], str]  # (is the value allowed?, what is allowed)


def _at_least(low) -> Rule:
    return (lambda v: v >= low), f"must be >= {low}"


_POSITIVE: Rule = (lambda v: v > 0), "must be > 0"
_FRACTION: Rule = (lambda v: 0 <= v <= 1), "must be between 0 and 1"
_BETA: Rule = (lambda v: len(v) == 2 and all(0 <= b < 1 for b in v)), "must be two numbers in [0, 1)"


def _choice(*names: str) -> Rule:
    return (lambda v: str(v).lower() in names), "must be one of " + ", ".join(names)


RULES: Dict[str, Rule] = {
    "TrainingConfig.epochs": _at_least(1),
    "TrainingConfig.seed": _at_least(0),
    "TrainingConfig.log_interval": _at_least(1),
    "TrainingConfig.max_nonfinite_steps": _at_least(0),
    "DataConfig.batch_size": _at_least(1),
    "DataConfig.num_workers": _at_least(0),
    "DataConfig.max_duration": _at_least(0),
    "DataConfig.pad_multiple": _at_least(1),
    "DataConfig.max_static_shapes": _at_least(0),
    "DataConfig.bucket_pool": _at_least(0),
    "DataConfig.label_pad_length": _at_least(0),
    "DataConfig.on_bad_sample": _choice("skip", "error"),
    "DataConfig.SpectConfig.sample_rate": _POSITIVE,
    "DataConfig.SpectConfig.window_size": _POSITIVE,
    "DataConfig.SpectConfig.window_stride": _POSITIVE,
    "DataConfig.AugmentationConfig.speed_min": _POSITIVE,
    "DataConfig.AugmentationConfig.speed_max": _POSITIVE,
    "DataConfig.AugmentationConfig.vtlp_min": _POSITIVE,
    "DataConfig.AugmentationConfig.vtlp_max": _POSITIVE,
    "DataConfig.AugmentationConfig.freq_masks": _at_least(0),
    "DataConfig.AugmentationConfig.freq_mask_width": _at_least(0),
    "DataConfig.AugmentationConfig.time_masks": _at_least(0),
    "DataConfig.AugmentationConfig.time_mask_ratio": _FRACTION,
    "DataConfig.AugmentationConfig.noise_prob": _FRACTION,
    "DataConfig.AugmentationConfig.noise_min": _at_least(0),
    "ModelConfig.hidden_size": _at_least(1),
    "ModelConfig.hidden_layers": _at_least(1),
    "ModelConfig.rnn_type": _choice("lstm"),
    "ModelConfig.activation": _choice("tanh", "hardtanh", "relu"),
    "ModelConfig.conv_impl": _choice("auto", "direct", "dft"),
    "OptimConfig.optimizer": _choice("adam", "adamw", "sgd"),
    "OptimConfig.learning_rate": _POSITIVE,
    "OptimConfig.lr_schedule": _choice(*SCHEDULES),
    "OptimConfig.warmup_steps": _at_least(0),
    "OptimConfig.learning_anneal": _POSITIVE,
    "OptimConfig.weight_decay": _at_least(0),
    "OptimConfig.momentum": _FRACTION,
    "OptimConfig.betas": _BETA,
    "OptimConfig.loss_scale": _POSITIVE,
    "OptimConfig.epsilon": _POSITIVE,
    "OptimConfig.max_grad_norm": _at_least(0),
    "CheckpointConfig.ckpt_file_name_prefix": ((lambda v: bool(v) and "/" not in v), "must be a non-empty file name"),
    "CheckpointConfig.save_checkpoint_steps": _at_least(0),
    "LMConfig.beam_width": _at_least(1),
    "LMConfig.lm_workers": _at_least(1),
    "LMConfig.top_paths": _at_least(1),
}

# (low key, high key) pairs that bound a range
RANGES = [("DataConfig.AugmentationConfig.speed_min", "DataConfig.AugmentationConfig.speed_max"),
          ("DataConfig.AugmentationConfig.gain_min", "DataConfig.AugmentationConfig.gain_max"),
          ("DataConfig.AugmentationConfig.vtlp_min", "DataConfig.AugmentationConfig.vtlp_max"),
          ("DataConfig.AugmentationConfig.noise_min", "DataConfig.AugmentationConfig.noise_max")]


def _get(tree: dict, path: str):
    node = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def config_problems(cfg: dict) -> List[str]:
    """One sentence per impossible value in ``cfg`` (empty when all is well)."""
    problems = []
    for path, (allowed, what) in RULES.items():
        value = _get(cfg, path)
        if value is not None and not allowed(value):
            problems.append(f"--{path} {value!r} {what}")
    for low, high in RANGES:
        lo, hi = _get(cfg, low), _get(cfg, high)
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"--{low} ({lo}) must not exceed --{high} ({hi})")
    return problems
