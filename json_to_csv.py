"""Convert a deepspeech.pytorch JSON manifest to the model zoo's CSV (``wav_path,txt_path``).

Paths are written absolute (resolved against ``root_path``), so the CSV works from any folder.
The CSV is replaced atomically, never appended to: re-running gives the same file.
"""
import argparse
import sys

from src.common.errors import run_main
from src.data.manifest import read_manifest, write_csv


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--json", required=True, help="deepspeech.pytorch JSON manifest")
    parser.add_argument("--csv", required=True, help="CSV manifest to write")
    args = parser.parse_args(argv)
    count = write_csv(args.csv, read_manifest(args.json))
    print(f"wrote {count} entries to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
