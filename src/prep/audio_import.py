"""Import a folder of the user's own recordings into the toolkit's layout, like LibriSpeech's.

Audio: every file below ``--audio-dir`` with a common audio extension, any sample rate or channel
count sox reads; it becomes ``<target>/<name>/wav/<id>.wav`` (16 kHz, 16-bit, mono). Transcripts:
a ``<stem>.txt`` beside each audio file, or one list file (``--transcripts``) with ``path|text``
lines or, for ``.csv``, ``path,text`` rows (quoted text may hold commas; an optional header row
starting with ``path``). They become ``<target>/<name>/txt/<id>.txt`` (upper case). Manifests:
``<name>_manifest.csv`` and ``<name>_manifest.json``, shortest utterance first. The id is the
path below ``--audio-dir`` without extension, ``/`` -> ``_``, so files in sub-folders keep apart.
"""
import argparse
import csv
import os
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from src.data.labels import DEFAULT_LABELS_PATH, LabelError, Labels
from src.common.errors import run_main
from src.prep.common import (PrepError, convert_pair, filter_by_duration, log, parallel_map, pair_jobs,
                             require_dir, require_tool, write_manifests)

DEFAULT_LABELS = DEFAULT_LABELS_PATH
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".aiff", ".aif", ".aifc", ".au", ".snd", ".sph",
                    ".w64", ".wv", ".caf", ".amr", ".gsm", ".voc")
_HEADER_CELLS = {"path", "file", "filename", "audio", "wav", "wav_path", "audio_path"}


def find_audio(audio_dir: str) -> List[str]:
    """Audio files below ``audio_dir`` (recursive, hidden files and folders skipped), sorted."""
    found = []
    for folder, dirs, files in os.walk(audio_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(folder, f) for f in files
                     if not f.startswith(".") and f.lower().endswith(AUDIO_EXTENSIONS))
    return sorted(found)


def utterance_id(audio_dir: str, path: str) -> str:
    """``sub/dir/x.flac`` -> ``sub_dir_x``; characters a manifest or shell would trip on become ``_``."""
    stem = os.path.splitext(os.path.relpath(path, audio_dir))[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace(os.sep, "_"))


def read_transcript_list(list_path: str, audio_dir: str) -> Dict[str, Tuple[str, str]]:
    """``{abs audio path: (text, "list:line")}`` from a ``path|text`` list or a ``path,text`` CSV."""
    try:
        with open(list_path, encoding="utf-8", newline="") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise PrepError(f"cannot read transcript list {list_path}: {err}") from None
    is_csv = list_path.lower().endswith(".csv")
    rows = csv.reader(lines) if is_csv else (line.split("|", 1) for line in lines)
    entries: Dict[str, Tuple[str, str]] = {}
    for number, row in enumerate(rows, 1):
        where = f"{list_path}:{number}"
        if not row or not "".join(row).strip():
            continue
        if number == 1 and row[0].strip().lower() in _HEADER_CELLS:
            continue
        if len(row) != 2 or not row[0].strip():
            raise PrepError(f"{where}: expected '{'path,text' if is_csv else 'path|text'}', got "
                            f"{(','.join(row) if is_csv else '|'.join(row))!r}")
        path = os.path.normpath(os.path.join(audio_dir, os.path.expanduser(row[0].strip())))
        if not os.path.isfile(path):
            raise PrepError(f"{where}: audio file not found: {path}")
        if path in entries:
            raise PrepError(f"{where}: {path} is already listed at {entries[path][1]}")
        entries[path] = (row[1], where)
    if not entries:
        raise PrepError(f"transcript list {list_path} has no entries")
    return entries


def _read_text_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as err:
        raise PrepError(f"cannot read transcript {path}: {err}") from None


def collect_utterances(audio_dir: str, transcripts: Optional[str]) -> List[Tuple[str, str, str]]:
    """``(id, audio path, TEXT)`` for every audio file that has a transcript, sorted by id.

    Audio without a transcript is reported and skipped; an empty transcript or two files mapping
    to the same id is an error naming them.
    """
    audio_dir = require_dir(audio_dir, "audio folder")
    if transcripts is not None:
        listed = read_transcript_list(transcripts, audio_dir)
        pairs = [(path, text, where) for path, (text, where) in sorted(listed.items())]
        unlisted = len(set(find_audio(audio_dir)) - set(listed))
        if unlisted:
            log(f"{unlisted} audio file(s) in {audio_dir} are not in {transcripts}; ignored")
    else:
        pairs, missing = [], []
        for path in find_audio(audio_dir):
            txt = os.path.splitext(path)[0] + ".txt"
            if os.path.isfile(txt):
                pairs.append((path, _read_text_file(txt), txt))
            else:
                missing.append(path)
        if missing:
            log(f"{len(missing)} audio file(s) without a <stem>.txt transcript, skipped (e.g. {missing[0]})")
        if not pairs:
            raise PrepError(f"no audio file with a transcript in {audio_dir} (give each a <stem>.txt "
                            f"or pass --transcripts LIST)")
    utterances, owner = [], {}
    for path, text, where in pairs:
        text = " ".join(text.upper().split())
        if not text:
            raise PrepError(f"{where}: empty transcript for {path}")
        uid = utterance_id(audio_dir, path)
        if uid in owner:
            raise PrepError(f"{path} and {owner[uid]} would both become '{uid}.wav'; rename one of them")
        owner[uid] = path
        utterances.append((uid, path, text))
    return sorted(utterances)


def report_unknown_characters(utterances: Sequence[Tuple[str, str, str]], labels_path: str) -> None:
    """Warn about characters the model cannot output (digits, punctuation): training drops them."""
    try:
        labels = Labels.load(labels_path)
    except LabelError as err:
        raise PrepError(str(err)) from None
    dropped, example = Counter(), None
    for uid, _, text in utterances:
        _, lost = labels.normalise(text)
        if lost and example is None:
            example = uid
        dropped.update(lost)
    if dropped:
        shown = ", ".join(f"{c!r} x{n}" for c, n in dropped.most_common(8))
        log(f"warning: characters outside {labels_path} ({shown}; first in '{example}') will be dropped "
            f"at training time; spell numbers and symbols out in the transcripts to keep them")


def import_audio(audio_dir: str, target_dir: str, name: str, transcripts: Optional[str] = None, workers: int = 2,
                 min_duration: Optional[float] = None, max_duration: Optional[float] = None,
                 manifest_dir: Optional[str] = None, labels_path: str = DEFAULT_LABELS) -> Dict[str, str]:
    """Convert and write manifests; returns ``{"csv": path, "json": path}``. Idempotent and resumable."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise PrepError(f"--name must be letters, digits, '.', '_' or '-', got {name!r}")
    require_tool("sox", "install sox and libsox-fmt-all (mp3, ogg, ...)")
    utterances = collect_utterances(audio_dir, transcripts)
    report_unknown_characters(utterances, labels_path)
    split_dir = os.path.join(os.path.abspath(target_dir), name)
    jobs = pair_jobs(split_dir, utterances)
    results = parallel_map(convert_pair, jobs, workers, desc=f"import {name}")
    done = sum(r[3] for r in results)
    log(f"import {name}: {len(results)} utterances, {done} converted, {len(results) - done} already present")
    rows = filter_by_duration([(r[0], r[1], r[2]) for r in results], min_duration, max_duration, name)
    return write_manifests(manifest_dir or target_dir, name, split_dir, rows)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    parser = argparse.ArgumentParser(
        prog="import_audio.py", allow_abbrev=False,
        description="Import your own recordings (any sox-readable format and rate) with transcripts into "
                    "<target>/<name>/wav|txt and <name>_manifest.{csv,json}.")
    parser.add_argument("--audio-dir", "--audio_dir", dest="audio_dir", required=True,
                        help="folder with the audio files (searched recursively)")
    parser.add_argument("--transcripts", default=None,
                        help="list file: 'path|text' lines, or a .csv with 'path,text' rows; paths relative to "
                             "--audio-dir (default: a <stem>.txt beside each audio file)")
    parser.add_argument("--target-dir", "--target_dir", dest="target_dir", default="data")
    parser.add_argument("--name", default="custom", help="data set name: folder and manifest prefix (default: custom)")
    parser.add_argument("--manifest-dir", "--manifest_dir", dest="manifest_dir", default=None,
                        help="where the manifests go (default: the target dir)")
    parser.add_argument("--min-duration", "--min_duration", dest="min_duration", type=float, default=None,
                        help="drop shorter utterances from the manifests, seconds (default: keep all)")
    parser.add_argument("--max-duration", "--max_duration", dest="max_duration", type=float, default=None,
                        help="drop longer utterances from the manifests, seconds (default: keep all)")
    parser.add_argument("--num-workers", "--num_workers", dest="num_workers", type=int,
                        default=min(4, os.cpu_count() or 1))
    parser.add_argument("--labels", default=DEFAULT_LABELS, help="to warn about characters the model cannot output")
    args = parser.parse_args(argv)
    if args.num_workers < 1:
        raise PrepError(f"--num-workers must be at least 1, got {args.num_workers}")
    return import_audio(args.audio_dir, args.target_dir, args.name, args.transcripts, args.num_workers,
                        args.min_duration, args.max_duration, args.manifest_dir, args.labels)


if __name__ == "__main__":
    raise SystemExit(run_main(main, prefix="[prep] ", resumable=True))
