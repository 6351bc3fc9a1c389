"""Manifests: which audio/transcript pairs make a data set.

Two formats are read: the model zoo's CSV (``wav_path,txt_path`` per line, no header) and
deepspeech.pytorch's JSON (``{"root_path": ..., "samples": [{"wav_path", "transcript_path"}]}``).
Relative paths are resolved against the manifest's own folder (CSV) or ``root_path`` (JSON; a
relative ``root_path`` against the manifest's folder), so a data folder can be moved as a whole.
"""
import json
import os
from dataclasses import dataclass
from typing import Iterable, List


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    wav_path: str
    txt_path: str
    where: str  # "manifest.csv:12", for messages


def _resolve(base: str, path: str) -> str:
    path = os.path.expanduser(path.strip())
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base, path))


def read_manifest(path: str) -> List[Entry]:
    """All entries of a CSV or JSON manifest, in file order."""
    if not os.path.isfile(path):
        raise ManifestError(f"manifest not found: {path}")
    base = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if path.endswith(".json") or text.lstrip().startswith("{"):
        return _read_json(path, base, text)
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(",")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise ManifestError(f"{path}:{number}: expected 'wav_path,txt_path', got {line!r}")
        entries.append(Entry(_resolve(base, parts[0]), _resolve(base, parts[1]), f"{path}:{number}"))
    return entries


def _read_json(path: str, base: str, text: str) -> List[Entry]:
    try:
        data = json.loads(text)
        root = _resolve(base, data.get("root_path", ""))
        samples = data["samples"]
    except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as err:
        raise ManifestError(f"{path}: not a deepspeech.pytorch JSON manifest "
                            f"({{'root_path', 'samples'}}): {err}") from None
    entries = []
    for number, sample in enumerate(samples):
        try:
            entries.append(Entry(_resolve(root, sample["wav_path"]), _resolve(root, sample["transcript_path"]),
                                 f"{path}:samples[{number}]"))
        except (KeyError, TypeError):
            raise ManifestError(f"{path}: samples[{number}] needs 'wav_path' and 'transcript_path'") from None
    return entries


def write_csv(path: str, entries: Iterable[Entry]) -> int:
    """Write a CSV manifest atomically (temporary file, then rename); returns the line count."""
    tmp = f"{path}.tmp{os.getpid()}"
    count = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(f"{entry.wav_path},{entry.txt_path}\n")
            count += 1
    os.replace(tmp, path)
    return count
