"""Convert a deepspeech.pytorch JSON manifest to the model zoo's CSV (``wav_path,txt_path``).

Paths are written absolute (resolved against ``root_path``), so the CSV works from any folder.
The CSV is replaced atomically, never appended to: re-running gives the same file.
"""
import argparse
import sys

from src.data.manifest import ManifestError, read_manifest, write_csv


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--json", required=True, help="deepspeech.pytorch JSON manifest")
    parser.add_argument("--csv", required=True, help="CSV manifest to write")
    args = parser.parse_args(argv)
    try:
        entries = read_manifest(args.json)
        count = write_csv(args.csv, entries)
    except (ManifestError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {count} entries to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
