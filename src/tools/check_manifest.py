"""Check manifests up front: ``python -m src.tools.check_manifest MANIFEST... [--key value ...]``.

Runs every entry through the checks training and evaluation apply (``src/data/sample_check.py``),
but reads every audio sample instead of just the header, so damage past the header or NaN
samples are found now rather than hours into a run. Prints the report (counts per problem, the
first offenders with their manifest line). Config keys work as in train.py: ``--labels_path``,
``--sample_rate``, ``--max_duration``, ``--label_pad_length``, ``--convert_audio``,
``--on_bad_sample error`` (stop at the first problem).

Exit code: 0 every entry is usable; 1 some would be skipped; 2 a manifest cannot be read (or
``--on_bad_sample error`` met a bad entry).
"""
import argparse
import sys

from src.config.overrides import parse_with_config
from src.config.schema import train_tree
from src.common.errors import run_main
from src.data.features import SpectParams
from src.data.labels import Labels
from src.data.sample_check import SamplePolicy, load_utterances


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m src.tools.check_manifest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="CSV or JSON manifests (before any --key)")
    parser.add_argument("--header_only", action="store_true", help="read audio headers only (fast, as training does)")
    args, cfg = parse_with_config(parser, train_tree(), argv)
    data_cfg = cfg.DataConfig
    labels = Labels.load(data_cfg.labels_path)
    params = SpectParams.from_config(data_cfg.SpectConfig)
    policy = SamplePolicy.from_config(data_cfg, max_duration=float(data_cfg.max_duration),
                                      max_label_length=int(data_cfg.label_pad_length),
                                      decode_audio=not args.header_only)
    clean = True
    for manifest in args.manifests:
        _, report = load_utterances(manifest, labels, params, policy=policy)
        print(report.summary())
        clean = clean and report.kept == report.total
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(run_main(main))
