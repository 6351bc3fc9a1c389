"""Which manifest entries a CTC model can use, checked up front, with a report of the rest.

Every entry passes the same checks, in this order, and the first that fails names it:
malformed manifest line, path outside the manifest's root, audio or transcript file missing,
transcript unreadable, audio unreadable/corrupt or empty (header; with ``decode_audio`` every
sample is read, which also finds NaN/inf samples and damage past the header), sample rate or
channel count other than configured (resampled/downmixed and counted when ``convert_audio``,
otherwise refused), transcript empty (also after dropping characters outside labels.json),
characters outside labels.json (dropped and counted; refused under ``error``), longer than
``max_duration``, transcript too long for its audio (CTC needs one output frame per label plus
one per repeated pair; ``ops.CTCLoss`` raises on CPU), more labels than ``max_label_length``.
Malformed lines are found when the manifest is read, so under ``error`` they are reported
before any entry's files are opened.

``on_bad_sample`` decides what a failing entry does: ``skip`` leaves it out and counts it (the
report lists counts per reason and the first few offenders with their manifest line); ``error``
stops at the first one with :class:`BadSampleError`. Nothing is ever cropped.
"""
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf

from src.config.schema import TrainDataConfig
from src.data.features import SpectParams
from src.data.labels import Labels
from src.data.manifest import Entry, read_manifest
from src.model.geometry import output_frames

EXAMPLES_PER_REASON = 3


class BadSampleError(ValueError):
    """``--on_bad_sample error``: the first unusable entry, named by file and manifest line."""


@dataclass(frozen=True)
class Utterance:
    wav_path: str
    text: str
    ids: Tuple[int, ...]
    frames: int  # spectrogram frames
    where: str  # manifest file:line, for messages


@dataclass(frozen=True)
class SamplePolicy:
    """What to do with unusable entries: DataConfig's keys (defaults from the schema), plus limits
    that only training and check_manifest set. Values are checked with the config (src/config/checks.py)."""
    on_bad_sample: str = TrainDataConfig.on_bad_sample  # skip | error
    convert_audio: bool = TrainDataConfig.convert_audio  # resample / downmix (counted) instead of refusing
    max_duration: float = TrainDataConfig.max_duration  # seconds; 0 = no limit
    max_label_length: int = TrainDataConfig.label_pad_length  # labels; 0 = no limit
    decode_audio: bool = False  # read every sample, not just the header (slower; check_manifest does)

    @classmethod
    def from_config(cls, data_cfg, **limits) -> "SamplePolicy":
        return cls(str(data_cfg["on_bad_sample"]), bool(data_cfg["convert_audio"]), **limits)


@dataclass
class LoadReport:
    """What happened to a manifest's entries; printed before training/eval."""
    manifest: str
    policy: SamplePolicy = SamplePolicy()
    total: int = 0
    kept: int = 0
    seconds: float = 0.0
    skipped: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=lambda: defaultdict(list))
    dropped_chars: Counter = field(default_factory=Counter)
    converted: Counter = field(default_factory=Counter)

    def skip(self, reason: str, message: str) -> None:
        if self.policy.on_bad_sample == "error":
            raise BadSampleError(f"{message} ({reason}; --on_bad_sample skip would leave it out)")
        self.skipped[reason] += 1
        if len(self.examples[reason]) < EXAMPLES_PER_REASON:
            self.examples[reason].append(message)

    def drop_chars(self, entry: Entry, dropped: Counter) -> None:
        """Characters outside labels.json: removed and counted, or refused under ``error``."""
        outside = "".join(sorted(dropped))
        reason = "characters outside labels.json"
        if self.policy.on_bad_sample == "error":
            raise BadSampleError(f"{entry.where}: {entry.txt_path} has {outside!r} ({reason}; "
                                 f"--on_bad_sample skip would remove them)")
        self.dropped_chars.update(dropped)
        if len(self.examples[reason]) < EXAMPLES_PER_REASON:
            self.examples[reason].append(f"{entry.where}: {outside!r}")

    def summary(self) -> str:
        lines = [f"{self.manifest}: {self.kept} of {self.total} utterances kept "
                 f"({self.seconds / 3600:.2f} h)"]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  skipped {count}: {reason}")
            lines += [f"    e.g. {m}" for m in self.examples[reason]]
        for what, count in sorted(self.converted.items()):
            lines.append(f"  converted {count}: {what}")
        if self.dropped_chars:
            chars = ", ".join(f"{c!r} x{n}" for c, n in self.dropped_chars.most_common(10))
            lines.append(f"  characters outside labels.json removed from transcripts: {chars}")
            lines += [f"    e.g. {m}" for m in self.examples["characters outside labels.json"]]
        return "\n".join(lines)


def required_frames(ids: Sequence[int]) -> int:
    """CTC needs a frame per label and a blank between each repeated pair."""
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(root)]) == os.path.abspath(root)


def _reason(err: Exception) -> str:
    text = str(err).strip()
    text = text.splitlines()[0] if text else type(err).__name__
    return re.sub(r"^Error opening '.*?': ", "", text)  # soundfile repeats the path


def _audio_problem(entry: Entry, params: SpectParams, policy: SamplePolicy,
                   report: LoadReport) -> Tuple[str, str, int]:
    """(reason, message, 0) for unusable audio, else ("", "", samples at the configured rate)."""
    path, where = entry.wav_path, entry.where
    if os.path.getsize(path) == 0:
        return "empty audio", f"{where}: {path} is an empty file (0 bytes)", 0
    try:
        info = sf.info(path)
    except Exception as err:  # soundfile raises several types for bad files
        return "unreadable or corrupt audio", f"{where}: {path}: {_reason(err)}", 0
    if info.frames <= 0:
        return "empty audio", f"{where}: {path} has no samples", 0
    conversions = []
    if info.samplerate != params.sample_rate:
        conversions.append((f"{info.samplerate} Hz resampled to {params.sample_rate} Hz",
                            "sample rate other than configured",
                            f"{where}: {path} is {info.samplerate} Hz, expected {params.sample_rate} Hz"))
    if info.channels != 1:
        conversions.append((f"{info.channels} channels downmixed to mono", "not mono",
                            f"{where}: {path} has {info.channels} channels, expected 1"))
    if conversions and not policy.convert_audio:
        _, reason, message = conversions[0]
        return f"{reason} (convert_audio is off)", message, 0
    if policy.decode_audio:
        try:
            samples, _ = sf.read(path, dtype="float32", always_2d=True)
        except Exception as err:
            return "unreadable or corrupt audio", f"{where}: {path}: {_reason(err)}", 0
        if samples.size == 0:
            return "empty audio", f"{where}: {path} has no samples", 0
        if not np.isfinite(samples).all():
            return "audio contains NaN/inf samples", f"{where}: {path}", 0
    for done, _, _ in conversions:
        report.converted[done] += 1
    return "", "", int(round(info.frames * params.sample_rate / info.samplerate))


def check_entry(entry: Entry, labels: Labels, params: SpectParams, policy: SamplePolicy,
                report: LoadReport) -> Tuple[Optional[Utterance], float]:
    """(utterance, seconds) for a usable entry, else (None, 0.0) after ``report.skip``."""
    for path in (entry.wav_path, entry.txt_path):
        if entry.root and not _inside(path, entry.root):
            report.skip("path outside the manifest's root", f"{entry.where}: {path} is outside {entry.root}")
            return None, 0.0
    for path, what in ((entry.wav_path, "audio"), (entry.txt_path, "transcript")):
        if not os.path.isfile(path):
            report.skip(f"{what} file missing", f"{entry.where}: {path}")
            return None, 0.0
    try:
        with open(entry.txt_path, encoding="utf-8") as fh:
            raw = fh.read()
    except (OSError, UnicodeDecodeError) as err:
        report.skip("unreadable transcript", f"{entry.where}: {entry.txt_path}: {err}")
        return None, 0.0
    reason, message, samples = _audio_problem(entry, params, policy, report)
    if reason:
        report.skip(reason, message)
        return None, 0.0
    text, dropped = labels.normalise(raw)
    if not text:
        report.dropped_chars.update(dropped)
        note = f" (after removing {''.join(sorted(dropped))!r})" if dropped else ""
        report.skip("empty transcript", f"{entry.where}: {entry.txt_path}{note}")
        return None, 0.0
    if dropped:
        report.drop_chars(entry, dropped)
    seconds = samples / params.sample_rate
    if policy.max_duration and seconds > policy.max_duration:
        report.skip(f"longer than max_duration {policy.max_duration:g} s", f"{entry.where}: {seconds:.1f} s")
        return None, 0.0
    ids = tuple(labels.encode(text))
    frames = params.num_frames(samples)
    if required_frames(ids) > int(output_frames(frames)):
        report.skip("transcript too long for its audio (cannot be aligned by CTC)",
                    f"{entry.where}: {len(ids)} labels, {int(output_frames(frames))} output frames")
        return None, 0.0
    if policy.max_label_length and len(ids) > policy.max_label_length:
        report.skip(f"more labels than label_pad_length {policy.max_label_length}",
                    f"{entry.where}: {len(ids)} labels")
        return None, 0.0
    return Utterance(entry.wav_path, text, ids, frames, entry.where), seconds


def load_utterances(manifest: str, labels: Labels, params: SpectParams, max_duration: float = 0.0,
                    policy: Optional[SamplePolicy] = None) -> Tuple[List[Utterance], LoadReport]:
    """Read a manifest and keep the utterances a CTC model can train or be scored on.

    ``policy`` defaults to skipping bad entries; ``max_duration`` is kept for older callers.
    """
    policy = policy or SamplePolicy(max_duration=max_duration)
    report = LoadReport(manifest, policy)
    malformed: List[Tuple[str, str]] = []
    entries = read_manifest(manifest, malformed)
    report.total = len(entries) + len(malformed)
    for _, message in malformed:  # reported first: they come before any file is opened
        report.skip("malformed manifest line", message)
    utts = []
    for entry in entries:
        utt, seconds = check_entry(entry, labels, params, policy, report)
        if utt is not None:
            utts.append(utt)
            report.seconds += seconds
    report.kept = len(utts)
    return utts, report
