"""Command-line overrides for any key of a config tree, shared by train/eval/export.

``--DataConfig.batch_size 8`` names a key by its full path; ``--batch_size 8`` works too when the
leaf name is unique in the tree. A key that does not exist is an error with a suggestion, so a
typo never silently trains with the default. ``--help`` lists every key of the tree, one argument
group per section, with its default, help line and range from the schema (``src/config/schema.py``).
"""
import argparse
import copy
import difflib
import json
from typing import Any, Dict, List, Optional, Tuple

from easydict import EasyDict

from src.common.errors import ConfigError
from src.config.checks import config_problems
from src.config.schema import KEYS, MODEL_SIZES, Key


def _leaves(tree: dict, prefix: str = "") -> Dict[str, Any]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def _by_leaf(leaves: Dict[str, Any]) -> Dict[str, List[str]]:
    """Leaf name -> the full paths that end in it (one path: the leaf name alone names the key)."""
    by_leaf: Dict[str, List[str]] = {}
    for path in leaves:
        by_leaf.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    return by_leaf


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
    by_leaf = _by_leaf(leaves)
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
    """Set ModelConfig.hidden_size / hidden_layers from a named size in ``MODEL_SIZES``."""
    if size not in MODEL_SIZES:
        raise ConfigError(f"--model_size {size!r}: choose one of {', '.join(MODEL_SIZES)}")
    cfg.ModelConfig.update(MODEL_SIZES[size])


_OVERRIDES = "config_overrides"  # the Namespace attribute the config options collect into


class _ConfigOption(argparse.Action):
    """A config key as an option: records ``--<full path>=<value>`` in command-line order, for
    ``apply_overrides`` to convert and apply (so every override goes one way, parsed or not)."""

    def __call__(self, parser, namespace, values, option_string=None):
        recorded = getattr(namespace, _OVERRIDES, None) or []
        setattr(namespace, _OVERRIDES, recorded + [f"--{self.dest}={values}"])


def _metavar(key: Optional[Key], default: Any) -> str:
    if key is not None and key.rule is not None and key.rule.choices:
        return "{" + ",".join(key.rule.choices) + "}"
    if isinstance(default, bool):
        return "{true,false}"
    return {int: "INT", float: "FLOAT", list: "LIST"}.get(type(default), "TEXT")


def _help(key: Optional[Key], default: Any) -> str:
    shown = repr(default) if default == "" else str(default)
    notes = [f"default: {shown}"]
    if key is not None and key.rule is not None and not key.rule.choices:
        notes.append(key.rule.allowed)
    if key is not None and key.not_above:
        notes.append("<= " + key.not_above.rsplit(".", 1)[-1])
    text = f"{key.help if key is not None else ''} ({'; '.join(notes)})"
    return text.replace("%", "%%")  # argparse %-formats help strings


def add_config_arguments(parser: argparse.ArgumentParser, tree: dict) -> None:
    """Every key of ``tree`` as an option of ``parser``, one argument group per section (for ``--help``):
    ``--DataConfig.batch_size``, and ``--batch_size`` too when that leaf name is unique in the tree and
    not one of the parser's own options. Values are recorded for :func:`parse_with_config`."""
    if parser.usage is None:  # the usage line (also printed with every error) names the parser's own options
        parser.usage = parser.format_usage()[len("usage: "):].rstrip().replace("%", "%%") + " [--KEY VALUE ...]"
    leaves = _leaves(tree)
    by_leaf = _by_leaf(leaves)
    own = parser._option_string_actions  # argparse's table of the options already defined
    groups: Dict[str, argparse._ArgumentGroup] = {}
    for path, default in leaves.items():
        if "--" + path in own:
            continue  # added before (the parser was given to us twice)
        section, _, leaf = path.rpartition(".")
        if section not in groups:
            groups[section] = parser.add_argument_group(f"{section or 'top-level'} keys")
        names = ["--" + path]
        if section and len(by_leaf[leaf]) == 1 and "--" + leaf not in own:
            names.insert(0, "--" + leaf)
        key = KEYS.get(path)
        groups[section].add_argument(*names, dest=path, action=_ConfigOption, default=argparse.SUPPRESS,
                                     metavar=_metavar(key, default), help=_help(key, default))


def parse_with_config(parser: argparse.ArgumentParser, base: EasyDict, argv=None) -> Tuple[argparse.Namespace, EasyDict]:
    """Parse the entry point's own flags and the keys of ``base`` (see :func:`add_config_arguments`);
    any other ``--x`` is tried as a config key too, so a typo gets a "did you mean".

    ``--model_size`` (if the parser defines it) is applied before the key overrides, so
    ``--model_size small --hidden_size 320`` means "small, but 320 wide". Impossible values
    (``src/config/checks.py``) are refused here, before anything runs.
    """
    add_config_arguments(parser, base)
    args, rest = parser.parse_known_args(argv)
    overrides = vars(args).pop(_OVERRIDES, [])
    cfg = copy.deepcopy(base)
    if getattr(args, "model_size", None):
        apply_model_size(cfg, args.model_size)
    try:
        cfg = apply_overrides(cfg, overrides + rest)
    except ConfigError as err:
        parser.error(str(err))
    problems = config_problems(cfg)
    if problems:
        parser.error("; ".join(problems))
    return args, cfg
