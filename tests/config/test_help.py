"""``--help`` of every entry point lists every config key it accepts, with its default and help line."""
import pytest

from src.config.schema import KEYS, eval_tree, train_tree
from tests.config.test_schema import typed_items
from tests.helpers import run_script

ENTRY_POINTS = [
    (["train.py"], train_tree),
    (["eval.py"], eval_tree),
    (["export.py"], eval_tree),
    (["transcribe.py"], eval_tree),
    (["-m", "src.tools.check_manifest"], train_tree),
    (["-m", "src.tools.tune_decoder"], eval_tree),
]


def flat(text: str) -> str:
    """Without whitespace: argparse wraps help lines (also at hyphens)."""
    return "".join(text.split())


@pytest.mark.parametrize("command, tree", ENTRY_POINTS, ids=lambda v: v[-1] if isinstance(v, list) else "")
def test_help_lists_every_key_with_its_default_and_help_line(command, tree):
    out = run_script(*command, "--help").stdout
    for path, value, _ in typed_items(tree()):
        assert f"--{path} " in out, path
        shown = "''" if value == "" else str(value)
        assert flat(f"{KEYS[path].help} (default: {shown}") in flat(out), path
    assert "usage:" in out and "--KEY VALUE" in out.split("\n\n")[0]  # the usage line stays short


def test_help_shows_short_names_ranges_and_choices():
    out = flat(run_script("train.py", "--help").stdout)
    assert flat("--batch_size INT, --DataConfig.batch_size INT utterances per batch (default: 20; >= 1)") in out
    assert flat("--optimizer {adam,adamw,sgd}, --OptimConfig.optimizer {adam,adamw,sgd}") in out
    assert flat("(default: 0.9; > 0; <= speed_max)") in out
    # export's own --batch_size (the exported input's) wins; the config key keeps its full name
    export = run_script("export.py", "--help").stdout
    assert "--batch_size BATCH_SIZE" in export and "--DataConfig.batch_size INT" in export
    assert "--batch_size INT" not in export
