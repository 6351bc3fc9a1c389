"""Shared helpers for the data-preparation scripts (TTS corpus, FSDD, LibriSpeech, own audio).

Every output file is first written under a temporary name in its final folder and then moved
into place (``src.common.files``), so a file under its final name is always complete: re-runs can
trust mere existence and skip it, and an interrupted run leaves at most a hidden ``.tmp-<pid>-*``
file behind, which the next run removes. The scripts run under ``run_main(main, prefix="[prep] ",
resumable=True)``: a PrepError is one ``[prep] error: ...`` line and exit code 2.
"""
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

import soundfile

from src.common.errors import PrepError
from src.common.files import atomic_path, atomic_write_text, remove_stale_temps
from src.data.manifest import read_manifest

SAMPLE_RATE = 16000

T = TypeVar("T")
R = TypeVar("R")


def log(message: str) -> None:
    """One short progress line; flushed so it shows up at once in logs and under pytest -s."""
    print(f"[prep] {message}", flush=True)


def require_tool(name: str, hint: str = "") -> str:
    """Absolute path of an external program, or a PrepError saying which one is missing."""
    path = shutil.which(name)
    if path is None:
        raise PrepError(f"required tool '{name}' not found on PATH" + (f" ({hint})" if hint else ""))
    return path


def require_dir(path: str, what: str = "folder") -> str:
    """Absolute path of an existing folder, or a PrepError naming it (instead of a deep FileNotFoundError)."""
    if not os.path.isdir(path):
        raise PrepError(f"{what} not found: {path}")
    return os.path.abspath(path)


def is_valid_wav(path: str, sample_rate: int = SAMPLE_RATE) -> bool:
    """True if ``path`` is a readable mono 16-bit PCM WAV at ``sample_rate`` (the toolkit's format)."""
    try:
        info = soundfile.info(path)
    except (RuntimeError, OSError):  # soundfile.LibsndfileError is a RuntimeError
        return False
    return (info.format == "WAV" and info.subtype == "PCM_16" and info.channels == 1
            and info.samplerate == sample_rate and info.frames > 0)


def convert_audio(src: str, dst: str, sample_rate: int = SAMPLE_RATE, effects: Sequence[str] = (),
                  src_type: Optional[str] = None, overwrite: bool = False) -> bool:
    """Convert any sox-readable file to 16-bit mono WAV at ``sample_rate``; returns True if it did work.

    Runs ``sox -R SRC -r RATE -b 16 -c 1 -t wav TMP [effects]`` then renames TMP to ``dst``; ``-R``
    seeds sox's dither so the same input always gives the same bytes. A valid ``dst`` is kept
    unless ``overwrite``. ``src_type`` names the input format when the file name has no usable
    extension (e.g. a temp file).
    """
    if not overwrite and is_valid_wav(dst, sample_rate):
        return False
    sox = require_tool("sox", "install sox and libsox-fmt-all")
    if not os.path.isfile(src):
        raise PrepError(f"audio file not found: {src}")
    with atomic_path(dst, fsync=False) as tmp:  # no fsync: an empty or cut wav fails is_valid_wav and is redone
        cmd = [sox, "-R"] + (["-t", src_type] if src_type else []) + [
            src, "-r", str(sample_rate), "-b", "16", "-c", "1", "-t", "wav", tmp] + list(effects)
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise PrepError(f"sox failed on {src} (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    return True


def wav_duration(path: str) -> float:
    """Duration in seconds from the file header only (soundfile.info), fast enough for whole corpora."""
    try:
        info = soundfile.info(path)
    except (RuntimeError, OSError) as err:
        raise PrepError(f"cannot read audio header of {path}: {err}") from None
    return info.frames / float(info.samplerate)


def write_csv_manifest(path: str, pairs: Iterable[Tuple[str, str]],
                       durations: Optional[Mapping[str, float]] = None) -> int:
    """Write a model-zoo CSV manifest (``ABS_WAV,ABS_TXT`` per line, no header), shortest first.

    Sorting by duration is what SortaGrad-style training and the zoo's batching expect; ties are
    broken by path so the file is byte-identical across runs. ``durations`` (wav path -> seconds)
    saves re-reading headers the caller already knows. Atomic; untouched if unchanged.
    Returns the number of lines.
    """
    rows = []
    for wav, txt in pairs:
        wav, txt = os.path.abspath(wav), os.path.abspath(txt)
        for p in (wav, txt):
            if "," in p or "\n" in p:
                raise PrepError(f"path cannot go into a CSV manifest (contains ',' or newline): {p}")
            if not os.path.isfile(p):
                raise PrepError(f"manifest entry does not exist: {p}")
        seconds = durations[wav] if durations is not None and wav in durations else wav_duration(wav)
        rows.append((seconds, wav, txt))
    rows.sort()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(path, "".join(f"{wav},{txt}\n" for _, wav, txt in rows))
    return len(rows)


def join_manifests(path: str, manifests: Sequence[str], max_seconds: Optional[float] = None) -> int:
    """Write one CSV manifest holding the utterances of ``manifests`` (those up to ``max_seconds``
    long, when given), shortest first; returns its number of lines."""
    durations = {}
    for manifest in manifests:
        for entry in read_manifest(manifest):
            durations[(entry.wav_path, entry.txt_path)] = wav_duration(entry.wav_path)
    kept = [pair for pair, seconds in durations.items() if max_seconds is None or seconds <= max_seconds]
    return write_csv_manifest(path, kept, {wav: durations[(wav, txt)] for wav, txt in kept})


def pair_jobs(split_dir: str, utterances: Iterable[Tuple[str, str, str]]) -> List[Tuple[str, str, str, str]]:
    """:func:`convert_pair` jobs ``(source, <split>/wav/<id>.wav, <split>/txt/<id>.txt, TEXT)`` for
    ``(id, source, TEXT)`` utterances; creates both folders and clears leftovers of killed runs there
    (and in ``split_dir``, where the LibriSpeech part records go)."""
    wav_dir, txt_dir = os.path.join(split_dir, "wav"), os.path.join(split_dir, "txt")
    for folder in (split_dir, wav_dir, txt_dir):
        os.makedirs(folder, exist_ok=True)
        remove_stale_temps(folder, log)
    return [(src, os.path.join(wav_dir, uid + ".wav"), os.path.join(txt_dir, uid + ".txt"), text)
            for uid, src, text in utterances]


def convert_pair(job: Tuple[str, str, str, str], effects: Sequence[str] = ()) -> Tuple[str, str, float, bool]:
    """One utterance ``(source audio, wav, txt, TEXT)`` -> ``(wav, txt, seconds, redone)``: the per-file
    job every importer runs (each file skipped when already complete); ``effects`` go to sox."""
    src, wav, txt, text = job
    did = convert_audio(src, wav, effects=effects)
    did = atomic_write_text(txt, text + "\n") or did
    return wav, txt, wav_duration(wav), did


def convert_split(fn: Callable, jobs: Sequence, workers: int, manifest: str, desc: str) -> Tuple[int, int, float]:
    """Run per-file jobs returning ``(wav, txt, seconds, redone)``, then write their manifest.

    Returns (utterances, files (re)done, hours): what the importers print.
    """
    results = parallel_map(fn, jobs, workers, desc=desc)
    write_csv_manifest(manifest, [(r[0], r[1]) for r in results], {r[0]: r[2] for r in results})
    return len(results), sum(r[3] for r in results), sum(r[2] for r in results) / 3600.0


def write_json_manifest(path: str, root_dir: str, rows: Iterable[Tuple[str, str, float]]) -> int:
    """Write a deepspeech.pytorch JSON manifest (``root_path`` + relative ``wav_path``/``transcript_path``),
    shortest utterance first like the CSV, so either format trains the same way. ``rows`` are
    ``(abs wav, abs txt, seconds)``. Atomic; untouched if unchanged. Returns the number of samples."""
    root_dir = os.path.abspath(root_dir)
    ordered = sorted((seconds, os.path.abspath(wav), os.path.abspath(txt)) for wav, txt, seconds in rows)
    samples = [{"wav_path": os.path.relpath(wav, root_dir), "transcript_path": os.path.relpath(txt, root_dir)}
               for _, wav, txt in ordered]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(path, json.dumps({"root_path": root_dir, "samples": samples}, indent=1) + "\n")
    return len(samples)


def write_manifests(manifest_dir: str, prefix: str, root_dir: str,
                    rows: Sequence[Tuple[str, str, float]]) -> Dict[str, str]:
    """``<prefix>_manifest.json`` (relative to ``root_dir``) and ``<prefix>_manifest.csv`` (absolute) of the
    same rows ``(wav, txt, seconds)``, both shortest first; returns ``{"json": path, "csv": path}``."""
    paths = {ext: os.path.join(os.path.abspath(manifest_dir), f"{prefix}_manifest.{ext}") for ext in ("json", "csv")}
    write_json_manifest(paths["json"], root_dir, rows)
    write_csv_manifest(paths["csv"], [(wav, txt) for wav, txt, _ in rows], {wav: s for wav, _, s in rows})
    log(f"{prefix}: {len(rows)} utterances ({sum(r[2] for r in rows) / 3600.0:.3f} h) -> "
        f"{paths['csv']}, {paths['json']}")
    return paths


def filter_by_duration(rows: Sequence[Tuple[str, str, float]], min_duration: Optional[float],
                       max_duration: Optional[float], desc: str) -> List[Tuple[str, str, float]]:
    """Rows ``(wav, txt, seconds)`` within [min_duration, max_duration] (None = no bound); prints how many
    utterances and hours were kept and dropped, so a surprising cut is visible at once."""
    if min_duration is None and max_duration is None:
        return list(rows)
    kept = [r for r in rows if (min_duration is None or r[2] >= min_duration)
            and (max_duration is None or r[2] <= max_duration)]
    kept_h = sum(r[2] for r in kept) / 3600.0
    dropped_n, dropped_h = len(rows) - len(kept), sum(r[2] for r in rows) / 3600.0 - kept_h
    bounds = f"[{'-' if min_duration is None else min_duration}, {'-' if max_duration is None else max_duration}] s"
    log(f"{desc}: kept {len(kept)} utterances ({kept_h:.3f} h), dropped {dropped_n} ({dropped_h:.3f} h) "
        f"outside {bounds}")
    return kept


def format_seconds(seconds: float) -> str:
    """``h:mm:ss`` for progress lines."""
    seconds = int(round(max(seconds, 0.0)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress lines with rate and ETA for long stages (files converted, bytes downloaded or unpacked).

    Prints at 100 %, every ``every_s`` seconds, and every 10 % if a second has passed, so a 30-hour
    corpus run and a 50-file test both give a handful of readable lines.
    """

    def __init__(self, total: float, desc: str, unit: str = "files", scale: float = 1.0, every_s: float = 30.0):
        self.total, self.desc, self.unit, self.scale, self.every_s = total, desc, unit, scale, every_s
        self.start = self.last_time = time.monotonic()
        self.last_fraction = 0.0

    def update(self, done: float) -> None:
        now = time.monotonic()
        fraction = done / self.total if self.total else 1.0
        if self.last_fraction >= 1.0:
            return  # the final line is printed once
        gap = now - self.last_time
        if fraction < 1.0 and gap < self.every_s and (fraction - self.last_fraction < 0.1 or gap < 1.0):
            return
        self.last_fraction, self.last_time = fraction, now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        digits = 0 if self.scale == 1 else 1
        log(f"{self.desc}: {done / self.scale:.{digits}f}/{self.total / self.scale:.{digits}f} {self.unit} "
            f"({100.0 * fraction:.0f} %, {rate / self.scale:.1f} {self.unit}/s, "
            f"elapsed {format_seconds(elapsed)}, ETA {format_seconds(eta)})")


def parallel_map(fn: Callable[[T], R], items: Sequence[T], workers: int = 2, desc: str = "working") -> List[R]:
    """``[fn(x) for x in items]`` on ``workers`` threads, results in input order, with progress lines
    (rate and ETA).

    Threads, not processes: the per-item work is an external program (sox, espeak-ng, flite) or a
    header read, which run outside the GIL; threads also avoid pickling ``fn`` and forking a parent
    that may have MindSpore loaded. The first exception cancels the pending items and is re-raised.
    """
    items = list(items)
    total = len(items)
    if total == 0:
        return []
    progress = Progress(total, desc)
    results: List[Optional[R]] = [None] * total
    if workers <= 1:
        for i, item in enumerate(items):
            results[i] = fn(item)
            progress.update(i + 1)
        return results  # type: ignore[return-value]
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures: Dict = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            progress.update(done)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results  # type: ignore[return-value]
