"""Split a LibriSpeech manifest by speaker: validation speakers never heard in training.

A random split by utterance puts every voice on both sides and measures how well the model
remembers voices, not how it copes with new ones. Here each speaker goes wholly to one side:

    python -m src.prep.speaker_split --manifest data/libri_train_manifest.csv \\
        --speakers-file .../LibriSpeech/SPEAKERS.TXT --val-speakers 4 --out data/split

picks 2 female and 2 male speakers (from SPEAKERS.TXT) for validation: each sex's speakers of the
manifest sorted by id, shuffled with ``--seed``, the first N/2 taken, so the same inputs give the
same split. ``--val-speaker-ids 1898,5789`` names them instead. Writes ``<out>/train_manifest.csv``
and ``<out>/val_manifest.csv`` (atomically, lines in the input's order) and prints each side's
speakers with sex and hours. The speaker is the first field of the utterance id that LibriSpeech
wav names keep (``<speaker>-<chapter>-<utt>.wav``, see src/prep/librispeech_tree.py).
"""
import argparse
import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from src.common.errors import PrepError, run_main
from src.data.manifest import Entry, read_manifest, write_csv
from src.prep.common import log, wav_duration

SEXES = ("F", "M")
_UTT_ID = re.compile(r"^(\d+)-\d+-\d+$")


@dataclass(frozen=True)
class Speaker:
    id: str
    sex: str  # "F", "M", or "?" when no SPEAKERS.TXT says
    entries: Tuple[Entry, ...]
    seconds: float


def read_speakers_file(path: str) -> Dict[str, str]:
    """``{speaker id: "F" | "M"}`` from LibriSpeech's SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES | NAME``)."""
    if not os.path.isfile(path):
        raise PrepError(f"speakers file not found: {path} (LibriSpeech's SPEAKERS.TXT)")
    sexes = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip() or line.lstrip().startswith(";"):
                continue
            fields = [f.strip() for f in line.split("|")]
            if len(fields) < 2 or not fields[0].isdigit() or fields[1] not in SEXES:
                raise PrepError(f"{path}:{number}: expected 'ID | F or M | ...', got {line.strip()[:80]!r}")
            sexes[fields[0]] = fields[1]
    return sexes


def speaker_of(entry: Entry) -> str:
    """The speaker id in a LibriSpeech utterance's wav name (``1898-145715-0003.wav`` -> ``1898``)."""
    match = _UTT_ID.match(os.path.splitext(os.path.basename(entry.wav_path))[0])
    if match is None:
        raise PrepError(f"{entry.where}: {os.path.basename(entry.wav_path)} is not named by a LibriSpeech "
                        f"utterance id <speaker>-<chapter>-<utterance>")
    return match.group(1)


def group_by_speaker(entries: Sequence[Entry], sexes: Dict[str, str]) -> Dict[str, Speaker]:
    """The manifest's speakers, each with its entries (in manifest order) and hours."""
    groups: Dict[str, List[Entry]] = defaultdict(list)
    for entry in entries:
        groups[speaker_of(entry)].append(entry)
    return {sid: Speaker(sid, sexes.get(sid, "?"), tuple(group), sum(wav_duration(e.wav_path) for e in group))
            for sid, group in groups.items()}


def choose_balanced(speakers: Dict[str, Speaker], count: int, seed: int) -> List[str]:
    """``count`` validation speakers, half of each sex: per sex, the ids sorted, shuffled by ``seed``,
    the first ``count / 2`` taken."""
    if count < 2 or count % 2:
        raise PrepError(f"--val-speakers {count}: must be an even number >= 2 (half F, half M)")
    unknown = sorted((s.id for s in speakers.values() if s.sex not in SEXES), key=int)
    if unknown:
        raise PrepError(f"speaker(s) {', '.join(unknown)} of the manifest are not in the speakers file, "
                        f"so their sex is unknown (name the validation speakers with --val-speaker-ids)")
    chosen = []
    for sex in SEXES:
        ids = sorted((s.id for s in speakers.values() if s.sex == sex), key=int)
        if count // 2 > len(ids):
            raise PrepError(f"--val-speakers {count} needs {count // 2} {sex} speakers, "
                            f"but the manifest has {len(ids)} ({', '.join(ids) or 'none'})")
        random.Random(seed).shuffle(ids)
        chosen += ids[:count // 2]
    return chosen


def check_named(speakers: Dict[str, Speaker], ids: Sequence[str]) -> List[str]:
    """``--val-speaker-ids``: every one must be a speaker of the manifest."""
    missing = [sid for sid in ids if sid not in speakers]
    if missing:
        raise PrepError(f"validation speaker(s) {', '.join(missing)} not in the manifest (its speakers: "
                        f"{', '.join(sorted(speakers, key=int))})")
    return list(dict.fromkeys(ids))


def describe(side: str, members: Sequence[Speaker]) -> List[str]:
    """What the split prints per side: a total line, then one line per speaker."""
    by_sex = {sex: sum(1 for s in members if s.sex == sex) for sex in (*SEXES, "?")}
    sexes = " + ".join(f"{n} {sex}" for sex, n in by_sex.items() if n)
    lines = [f"{side}: {len(members)} speakers ({sexes}), {sum(len(s.entries) for s in members)} utterances, "
             f"{sum(s.seconds for s in members) / 3600.0:.3f} h"]
    lines += [f"  {s.id:>6} {s.sex} {len(s.entries):5d} utterances {s.seconds / 3600.0:.3f} h"
              for s in sorted(members, key=lambda s: int(s.id))]
    return lines


def split_by_speaker(manifest: str, out_dir: str, val_count: int = 0, val_ids: Sequence[str] = (),
                     speakers_file: Optional[str] = None, seed: int = 0) -> Dict[str, str]:
    """Write ``train_manifest.csv`` and ``val_manifest.csv`` in ``out_dir``; returns ``{side: path}``.

    Give either ``val_count`` (balanced by sex, needs ``speakers_file``) or ``val_ids``.
    """
    if bool(val_count) == bool(val_ids):
        raise PrepError("give either --val-speakers N or --val-speaker-ids, not both or neither")
    if val_count and not speakers_file:
        raise PrepError("--val-speakers chooses by sex: give --speakers-file (LibriSpeech's SPEAKERS.TXT)")
    entries = read_manifest(manifest)
    speakers = group_by_speaker(entries, read_speakers_file(speakers_file) if speakers_file else {})
    chosen = check_named(speakers, val_ids) if val_ids else choose_balanced(speakers, val_count, seed)
    if len(chosen) >= len(speakers):
        raise PrepError(f"{len(chosen)} validation speakers leave none of the manifest's {len(speakers)} "
                        f"for training")
    sides = {"train": [s for sid, s in speakers.items() if sid not in chosen], "val": [speakers[s] for s in chosen]}
    paths = {side: os.path.join(out_dir, f"{side}_manifest.csv") for side in sides}
    os.makedirs(out_dir, exist_ok=True)
    for side, members in sides.items():
        ids = {s.id for s in members}
        write_csv(paths[side], [e for e in entries if speaker_of(e) in ids])
        for line in describe("validation" if side == "val" else "training", members):
            log(line)
    log(f"wrote {paths['train']} and {paths['val']}")
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m src.prep.speaker_split", allow_abbrev=False,
        description="Split a LibriSpeech manifest by speaker into train and validation manifests "
                    "(no speaker on both sides).")
    parser.add_argument("--manifest", required=True, help="CSV/JSON manifest of LibriSpeech utterances")
    parser.add_argument("--out", required=True, help="folder for train_manifest.csv and val_manifest.csv")
    parser.add_argument("--speakers-file", "--speakers_file", dest="speakers_file", default=None,
                        help="LibriSpeech's SPEAKERS.TXT (the speakers' sex; needed by --val-speakers)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--val-speakers", "--val_speakers", dest="val_speakers", type=int, default=0,
                       help="this many validation speakers, half F and half M (even, >= 2)")
    which.add_argument("--val-speaker-ids", "--val_speaker_ids", dest="val_speaker_ids", default="",
                       help="comma-separated validation speaker ids, e.g. 1898,5789")
    parser.add_argument("--seed", type=int, default=0,
                        help="which speakers --val-speakers picks (default: 0; same seed, same split)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    args = build_parser().parse_args(argv)
    ids = [s.strip() for s in args.val_speaker_ids.replace(" ", ",").split(",") if s.strip()]
    return split_by_speaker(args.manifest, args.out, args.val_speakers, ids, args.speakers_file, args.seed)


if __name__ == "__main__":
    raise SystemExit(run_main(main, prefix="[prep] "))
