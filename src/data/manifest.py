"""Manifests: which audio/transcript pairs make a data set.

Two formats are read: the model zoo's CSV (``wav_path,txt_path`` per line, no header) and
deepspeech.pytorch's JSON (``{"root_path": ..., "samples": [{"wav_path", "transcript_path"}]}``).
Relative paths are resolved against the manifest's own folder (CSV) or ``root_path`` (JSON; a
relative ``root_path`` against the manifest's folder), so a data folder can be moved as a whole.
That folder is the entry's ``root``: a path that leaves it (``../..``; for JSON any path outside
``root_path``) is reported by the sample checks, since a moved or shared data folder would then
read someone else's files. Absolute CSV paths (the zoo's own format) have no root.

Malformed lines raise :class:`ManifestError`, or, given a ``malformed`` list, are collected there
as (where, message) and left out, so one bad line need not stop a long run (``--on_bad_sample``).
"""
import json
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from src.common.errors import ManifestError
from src.common.files import atomic_write


@dataclass(frozen=True)
class Entry:
    wav_path: str
    txt_path: str
    where: str  # "manifest.csv:12", for messages
    root: str = ""  # the folder the entry must stay inside; "" = none (absolute CSV paths)


def _resolve(base: str, path: str) -> str:
    path = os.path.expanduser(path.strip())
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


def read_manifest(path: str, malformed: Optional[List[Tuple[str, str]]] = None) -> List[Entry]:
    """All entries of a CSV or JSON manifest, in file order (see the module doc for ``malformed``)."""
    if not os.path.isfile(path):
        raise ManifestError(f"manifest not found: {path}")
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path}: not a text manifest (not UTF-8 at byte {err.start})") from None
    report = _raiser if malformed is None else (lambda where, message: malformed.append((where, message)))
    if path.endswith(".json") or text.lstrip().startswith("{"):
        return _read_json(path, base, text, report)
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(",")
        where = f"{path}:{number}"
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip() or "\0" in line:
            report(where, f"{where}: expected 'wav_path,txt_path', got {line[:200]!r}")
            continue
        root = "" if os.path.isabs(os.path.expanduser(parts[0].strip())) else base
        entries.append(Entry(_resolve(base, parts[0]), _resolve(base, parts[1]), where, root))
    return entries


def _raiser(where: str, message: str) -> None:
    raise ManifestError(message)


def _read_json(path: str, base: str, text: str, report) -> List[Entry]:
    try:
        data = json.loads(text)
        root = _resolve(base, data.get("root_path", ""))
        samples = data["samples"]
        if not isinstance(samples, list):
            raise TypeError("'samples' is not a list")
    except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as err:
        raise ManifestError(f"{path}: not a deepspeech.pytorch JSON manifest "
                            f"({{'root_path', 'samples'}}): {err}") from None
    entries = []
    for number, sample in enumerate(samples):
        where = f"{path}:samples[{number}]"
        try:
            wav, txt = sample["wav_path"], sample["transcript_path"]
            if not (isinstance(wav, str) and isinstance(txt, str) and wav.strip() and txt.strip()) \
                    or "\0" in wav + txt:
                raise TypeError
        except (KeyError, TypeError):
            report(where, f"{where} needs 'wav_path' and 'transcript_path' (non-empty strings)")
            continue
        entries.append(Entry(_resolve(root, wav), _resolve(root, txt), where, root))
    return entries


def write_csv(path: str, entries: Iterable[Entry]) -> int:
    """Write a CSV manifest atomically (temporary file, then rename); returns the line count."""
    count = 0
    with atomic_write(path) as fh:
        for entry in entries:
            fh.write(f"{entry.wav_path},{entry.txt_path}\n")
            count += 1
    return count
