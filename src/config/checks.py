"""Impossible configuration values, refused in one pass when the command line is parsed.

A negative learning rate or a batch of 0 would otherwise surface minutes later (after the data
is scanned and the graph compiled) as an error from deep inside MindSpore, or not at all. The
ranges are the schema's (``src/config/schema.py``), keyed by the key's path below its tree's
root (``DataConfig.batch_size``), so the train and eval trees share them; a key a tree does not
have is simply not checked.
"""
from typing import Any, List

from src.config.schema import KEYS


def lookup(tree: dict, path: str) -> Any:
    """The value at a dotted ``path`` of ``tree``, or None when the tree has no such key."""
    node = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _holds(test, *values: Any) -> bool:
    try:
        return bool(test(*values))
    except (TypeError, ValueError):  # a value of the wrong kind (set in code, not parsed) is not allowed
        return False


def config_problems(cfg: dict) -> List[str]:
    """One sentence per impossible value in ``cfg`` (empty when all is well): first each key's own
    range, then each low/high pair whose two values are in range."""
    problems, out_of_range = [], set()
    for key in KEYS.values():
        value = lookup(cfg, key.path)
        if key.rule is not None and value is not None and not _holds(key.rule.allows, value):
            problems.append(f"--{key.path} {value!r} must be {key.rule.allowed}")
            out_of_range.add(key.path)
    for key in KEYS.values():
        if not key.not_above or {key.path, key.not_above} & out_of_range:
            continue
        low, high = lookup(cfg, key.path), lookup(cfg, key.not_above)
        if low is not None and high is not None and not _holds(lambda a, b: a <= b, low, high):
            problems.append(f"--{key.path} ({low}) must not exceed --{key.not_above} ({high})")
    return problems
