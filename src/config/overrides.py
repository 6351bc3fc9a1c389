"""Command-line overrides for any key of a config tree, shared by train/eval/export.

``--DataConfig.batch_size 8`` names a key by its full path; ``--batch_size 8`` works too when the
leaf name is unique in the tree. A key that does not exist is an error with a suggestion, so a
typo never silently trains with the default.
"""
import argparse
import copy
import difflib
import json
from typing import Any, Dict, List, Tuple

from easydict import EasyDict

import config as cfgmod
from src.config.checks import config_problems


class ConfigError(ValueError):
    """A configuration problem the user can fix; the message says which key/value."""


def _leaves(tree: dict, prefix: str = "") -> Dict[str, Any]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def _convert(text: str, default: Any, key: str) -> Any:
    try:
        if isinstance(default, bool):
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (list, tuple)):
            value = json.loads(text) if text.strip().startswith("[") else [float(v) for v in text.split(",")]
            return list(value)
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"--{key}: {text!r} is not a valid {kind}") from None
    return text


def apply_overrides(cfg: EasyDict, args: List[str]) -> EasyDict:
    """Return a copy of ``cfg`` with ``--key value`` / ``--key=value`` pairs from ``args`` applied."""
    cfg = copy.deepcopy(cfg)
    leaves = _leaves(cfg)
    by_leaf: Dict[str, List[str]] = {}
    for path in leaves:
        by_leaf.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    pairs: List[Tuple[str, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r} (config overrides look like --batch_size 8)")
        name = arg[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise ConfigError(f"--{name} needs a value")
            value = args[i + 1]
            i += 2
        pairs.append((name, value))
    for name, value in pairs:
        if name in leaves:
            path = name
        elif name in by_leaf and len(by_leaf[name]) == 1:
            path = by_leaf[name][0]
        elif name in by_leaf:
            raise ConfigError(f"--{name} is ambiguous: use one of " + ", ".join("--" + p for p in by_leaf[name]))
        else:
            choices = list(leaves) + list(by_leaf)
            near = difflib.get_close_matches(name, choices, n=1)
            hint = f" (did you mean --{near[0]}?)" if near else ""
            raise ConfigError(f"unknown option or config key --{name}{hint}")
        node = cfg
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = _convert(value, leaves[path], path)
    return cfg


def apply_model_size(cfg: EasyDict, size: str) -> None:
    """Set ModelConfig.hidden_size / hidden_layers from a named size in ``config.MODEL_SIZES``."""
    if size not in cfgmod.MODEL_SIZES:
        raise ConfigError(f"--model_size {size!r}: choose one of {', '.join(cfgmod.MODEL_SIZES)}")
    cfg.ModelConfig.update(cfgmod.MODEL_SIZES[size])


def parse_with_config(parser: argparse.ArgumentParser, base: EasyDict, argv=None) -> Tuple[argparse.Namespace, EasyDict]:
    """Parse the entry point's own flags, then treat every other ``--x`` as a config override.

    ``--model_size`` (if the parser defines it) is applied before the key overrides, so
    ``--model_size small --hidden_size 320`` means "small, but 320 wide". Impossible values
    (``src/config/checks.py``) are refused here, before anything runs.
    """
    args, rest = parser.parse_known_args(argv)
    cfg = copy.deepcopy(base)
    if getattr(args, "model_size", None):
        apply_model_size(cfg, args.model_size)
    try:
        cfg = apply_overrides(cfg, rest)
    except ConfigError as err:
        parser.error(str(err))
    problems = config_problems(cfg)
    if problems:
        parser.error("; ".join(problems))
    return args, cfg
