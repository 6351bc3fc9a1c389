"""An offline synthetic spoken corpus made with local TTS engines: digits for the default demo job,
or given sentences (``--texts_from MANIFEST``: the training transcripts spoken by many voices).

Utterances are 1-4 digit words (ZERO ... NINE; "OH" is not used), or the given sentences in a
seeded order (each said once before any is said again), spoken by many voices, with
random speaking rate, pitch, level and leading/trailing silence. Train and test are split **by
voice**: no test voice is ever heard in training, so the test score measures generalisation to
new voices, not memorised recordings.

Voices (each checked for availability at run time; missing ones are skipped with a message):

* espeak-ng, accents ``en-us``, ``en`` (British), ``en-gb-scotland``, ``en-gb-x-rp``, ``en-029``
  (Caribbean) combined with voice variants:
  train: default, ``m1``-``m6``, ``f1``-``f3``, ``klatt``; **test: the held-out variant group
  ``m7`` and ``f4``**.
* flite: train ``kal``, ``kal16`` (the same speaker at 8/16 kHz, so both stay on one side),
  ``awb``, ``slt``; **test: ``rms``** (held out). ``awb_time`` is a limited-domain
  (time-of-day) voice and cannot say arbitrary words, so it is not used.
* festival ``text2wave`` (its default voice), train only, if it actually produces audio here
  (on a system without festival voice packages it writes nothing and is skipped).

Per split an engine is first drawn uniformly among the engines with a voice in that split, then
a voice of that engine, so the few flite voices are not drowned by the many espeak-ng
variants. Everything is drawn from ``random.Random`` seeded by (seed, split), so a seed gives the
same corpus (given the same set of available voices; ``sox -R`` makes the audio bytes repeatable).
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from src.common.errors import run_main
from src.common.files import atomic_write_text, remove_quietly, remove_stale_temps, temp_path_for
from src.data.manifest import read_manifest
from src.prep.common import (PrepError, convert_audio, is_valid_wav, join_manifests, log, parallel_map, require_tool,
                             wav_duration, write_csv_manifest)

SPEAKABLE = re.compile(r"[A-Z']+( [A-Z']+)*")
DIGIT_WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
MIN_WORDS, MAX_WORDS = 1, 4

ESPEAK_ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029")
ESPEAK_VARIANTS = {"train": ("", "m1", "m2", "m3", "m4", "m5", "m6", "f1", "f2", "f3", "klatt"),
                   "test": ("m7", "f4")}
FLITE_VOICES = {"train": ("kal", "kal16", "awb", "slt"), "test": ("rms",)}
FESTIVAL_VOICES = {"train": ("default",), "test": ()}
FLITE_FEMALE = ("slt",)

ESPEAK_SPEED = (130, 190)        # words per minute (espeak-ng -s)
ESPEAK_PITCH = (25, 75)          # 0-99, default 50 (espeak-ng -p)
DURATION_STRETCH = (0.8, 1.25)   # flite / festival: >1 is slower
F0_MALE, F0_FEMALE = (90, 130), (150, 205)  # flite int_f0_target_mean, Hz
PAD_SECONDS = (0.05, 0.35)       # silence before and after (sox pad)
VOLUME = (0.35, 0.9)             # linear gain (sox vol); < 1 also keeps resampling from clipping

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak", "flite" or "festival"
    name: str    # espeak-ng voice spec ("en-us+m3"), flite voice ("awb"), or "default"

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


@dataclass(frozen=True)
class Utterance:
    uid: str
    split: str
    voice: Voice
    text: str                                     # upper case, as in the transcript
    params: Tuple[Tuple[str, object], ...] = field(default=())

    def param(self, key: str):
        return dict(self.params)[key]


# ---------------------------------------------------------------- voice availability

def _run(cmd: List[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, **kwargs)


def _espeak_variants_dir(espeak: str) -> Optional[str]:
    """``<data>/voices/!v`` from ``espeak-ng --version`` ("... Data at: /path"); an unknown variant is
    silently ignored by espeak-ng (exit 0), so variants are checked by file instead of by exit code."""
    out = _run([espeak, "--version"]).stdout.decode(errors="replace")
    match = re.search(r"Data at:\s*(\S+)", out)
    return os.path.join(match.group(1), "voices", "!v") if match else None


def _espeak_voices(split: str) -> List[Voice]:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        log("espeak-ng not found on PATH: espeak-ng voices skipped")
        return []
    var_dir = _espeak_variants_dir(espeak)
    variants = [v for v in ESPEAK_VARIANTS[split] if not v or var_dir is None or os.path.isfile(os.path.join(var_dir, v))]
    accents = []
    for accent in ESPEAK_ACCENTS:
        result = _run([espeak, "-v", accent, "--stdout", "one"])
        if result.returncode == 0 and len(result.stdout) > 1000:
            accents.append(accent)
    return [Voice("espeak", a + (f"+{v}" if v else "")) for a in accents for v in variants]


def _flite_voices(split: str) -> List[Voice]:
    flite = shutil.which("flite")
    if flite is None:
        log("flite not found on PATH: flite voices skipped")
        return []
    # An unknown -voice silently falls back to the default voice, so trust only the listed ones.
    listed = _run([flite, "-lv"]).stdout.decode(errors="replace")
    names = set(listed.split(":", 1)[-1].split())
    return [Voice("flite", v) for v in FLITE_VOICES[split] if v in names]


_festival_ok: Optional[bool] = None


def _festival_voices(split: str) -> List[Voice]:
    """Festival counts only if text2wave really writes audio (without voice packages it exits 0 and writes nothing)."""
    global _festival_ok
    if not FESTIVAL_VOICES[split]:
        return []
    if _festival_ok is None:
        text2wave = shutil.which("text2wave")
        _festival_ok = False
        if text2wave is not None:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "probe.wav")
                try:
                    _run([text2wave, "-o", out, "-eval", "(Parameter.set 'Duration_Stretch 1.0)"], input=b"one two\n")
                except subprocess.TimeoutExpired:
                    pass
                _festival_ok = os.path.isfile(out) and os.path.getsize(out) > 1000
        if not _festival_ok:
            log("festival text2wave " + ("produced no audio (no voice installed?)" if text2wave else "not found")
                + ": festival skipped")
    return [Voice("festival", v) for v in FESTIVAL_VOICES[split]] if _festival_ok else []


def available_voices() -> Dict[str, List[Voice]]:
    """{'train': [...], 'test': [...]}: the configured voices that work on this machine.

    Raises PrepError if a split has no voice at all (no TTS engine installed).
    """
    voices = {split: _espeak_voices(split) + _flite_voices(split) + _festival_voices(split) for split in SPLITS}
    for split in SPLITS:
        if not voices[split]:
            raise PrepError(f"no TTS voice available for the {split} split: install espeak-ng and/or flite "
                            f"(needed voices: espeak-ng variants {ESPEAK_VARIANTS[split]}, flite {FLITE_VOICES[split]})")
    overlap = {v.id for v in voices["train"]} & {v.id for v in voices["test"]}
    assert not overlap, f"voices in both splits: {overlap}"
    return voices


# ---------------------------------------------------------------- planning

def _draw_params(rng: random.Random, voice: Voice) -> Dict[str, object]:
    params: Dict[str, object] = {}
    if voice.engine == "espeak":
        params["speed"] = rng.randint(*ESPEAK_SPEED)
        params["pitch"] = rng.randint(*ESPEAK_PITCH)
    else:
        params["stretch"] = round(rng.uniform(*DURATION_STRETCH), 3)
        if voice.engine == "flite":
            params["f0"] = rng.randint(*(F0_FEMALE if voice.name in FLITE_FEMALE else F0_MALE))
    params["pad_before"] = round(rng.uniform(*PAD_SECONDS), 3)
    params["pad_after"] = round(rng.uniform(*PAD_SECONDS), 3)
    params["volume"] = round(rng.uniform(*VOLUME), 3)
    return params


def plan_corpus(voices: Dict[str, List[Voice]], n_train: int, n_test: int, seed: int = 0,
                texts: Optional[Sequence[str]] = None) -> Dict[str, List[Utterance]]:
    """The utterances to synthesise (voice, text, prosody), a pure function of its arguments.

    ``texts``: the sentences to say instead of random digit strings, cycled in a seeded order.

    The id ends with a hash of its content, so a different seed or voice set never reuses a file
    made for another plan.
    """
    plan: Dict[str, List[Utterance]] = {}
    for split, count in (("train", n_train), ("test", n_test)):
        rng = random.Random(f"tts-corpus/{split}/{seed}")
        by_engine: Dict[str, List[Voice]] = {}
        for voice in voices[split]:
            by_engine.setdefault(voice.engine, []).append(voice)
        engines = sorted(by_engine)
        order = rng.sample(range(len(texts)), len(texts)) if texts else []
        utterances = []
        for i in range(count):
            voice = rng.choice(by_engine[rng.choice(engines)])
            if texts:
                text = texts[order[i % len(order)]]
            else:
                text = " ".join(rng.choice(DIGIT_WORDS) for _ in range(rng.randint(MIN_WORDS, MAX_WORDS)))
            params = _draw_params(rng, voice)
            digest = hashlib.sha1(json.dumps([voice.id, text, params], sort_keys=True).encode()).hexdigest()[:8]
            utterances.append(Utterance(f"tts_{split}_{i:05d}_{digest}", split, voice, text, tuple(sorted(params.items()))))
        plan[split] = utterances
    return plan


# ---------------------------------------------------------------- synthesis

def _synth_command(utt: Utterance, out: str) -> Tuple[List[str], Optional[bytes]]:
    text = utt.text.lower()  # lower case so no engine reads a word as an acronym
    if utt.voice.engine == "espeak":
        return ["espeak-ng", "-v", utt.voice.name, "-s", str(utt.param("speed")), "-p", str(utt.param("pitch")),
                "-w", out, text], None
    if utt.voice.engine == "flite":
        return ["flite", "-voice", utt.voice.name, "--setf", f"duration_stretch={utt.param('stretch')}",
                "--setf", f"int_f0_target_mean={utt.param('f0')}", "-t", text, "-o", out], None
    if utt.voice.engine == "festival":
        return ["text2wave", "-o", out, "-eval", f"(Parameter.set 'Duration_Stretch {utt.param('stretch')})"], \
            (text + "\n").encode()
    raise PrepError(f"unknown TTS engine {utt.voice.engine!r}")


def _synthesise(job: Tuple[Utterance, str, str]) -> Tuple[str, str, float, bool]:
    """Make one utterance unless its wav and txt are already there; returns (wav, txt, seconds, did_work)."""
    utt, wav, txt = job
    did = False
    if not is_valid_wav(wav):
        raw = temp_path_for(wav)
        try:
            cmd, stdin = _synth_command(utt, raw)
            try:
                result = _run(cmd, input=stdin)
            except (OSError, subprocess.TimeoutExpired) as err:
                raise PrepError(f"{cmd[0]} could not run for voice {utt.voice.id}: {err}") from None
            if result.returncode != 0 or os.path.getsize(raw) < 100:
                raise PrepError(f"{cmd[0]} failed for voice {utt.voice.id} (exit {result.returncode}): "
                                f"{result.stderr.decode(errors='replace').strip()[-300:]}")
            effects = ["vol", str(utt.param("volume")), "pad", str(utt.param("pad_before")), str(utt.param("pad_after"))]
            convert_audio(raw, wav, effects=effects, src_type="wav", overwrite=True)
        finally:
            remove_quietly(raw)
        did = True
    did = atomic_write_text(txt, utt.text + "\n") or did
    return wav, txt, wav_duration(wav), did


def build_tts_corpus(target_dir: str, n_train: int = 1500, n_test: int = 200, seed: int = 0,
                     workers: int = 2, texts: Optional[Sequence[str]] = None) -> Dict[str, str]:
    """Synthesise the corpus into ``<target>/tts_{train,test}/{wav,txt}`` and write
    ``<target>/tts_train_manifest.csv`` and ``<target>/tts_test_manifest.csv`` (plus
    ``tts_<split>_meta.tsv``: id, voice, text, prosody, for per-voice error analysis).

    Returns {'train': manifest path, 'test': manifest path}. Deterministic for a seed and
    idempotent: finished utterances are skipped, so an interrupted run resumes.
    """
    if n_train < 1 or n_test < 1:
        raise PrepError(f"n_train and n_test must be >= 1 (got {n_train}, {n_test})")
    require_tool("sox", "install sox")
    start = time.monotonic()
    voices = available_voices()
    for split in SPLITS:
        log(f"tts {split} voices ({len(voices[split])}): " + " ".join(v.id for v in voices[split]))
    plan = plan_corpus(voices, n_train, n_test, seed, texts)
    target_dir = os.path.abspath(target_dir)
    manifests = {}
    for split in SPLITS:
        split_dir = os.path.join(target_dir, f"tts_{split}")
        wav_dir, txt_dir = os.path.join(split_dir, "wav"), os.path.join(split_dir, "txt")
        for folder in (wav_dir, txt_dir):
            os.makedirs(folder, exist_ok=True)
            remove_stale_temps(folder, log)
        jobs = [(u, os.path.join(wav_dir, u.uid + ".wav"), os.path.join(txt_dir, u.uid + ".txt")) for u in plan[split]]
        results = parallel_map(_synthesise, jobs, workers, desc=f"tts_{split}")
        meta = "".join(f"{u.uid}\t{u.voice.id}\t{u.text}\t{json.dumps(dict(u.params), sort_keys=True)}\n"
                       for u in plan[split])
        atomic_write_text(os.path.join(target_dir, f"tts_{split}_meta.tsv"), "id\tvoice\ttext\tparams\n" + meta)
        manifest = os.path.join(target_dir, f"tts_{split}_manifest.csv")
        write_csv_manifest(manifest, [(r[0], r[1]) for r in results], {r[0]: r[2] for r in results})
        done = sum(r[3] for r in results)
        hours = sum(r[2] for r in results) / 3600.0
        log(f"tts_{split}: {len(results)} utterances ({hours:.3f} h, {len({u.voice for u in plan[split]})} voices), "
            f"{done} (re)done, {len(results) - done} already present -> {manifest}")
        manifests[split] = manifest
    log(f"tts corpus ready in {time.monotonic() - start:.1f} s")
    return manifests


def manifest_texts(manifest: str) -> List[str]:
    """The distinct transcripts of a manifest, in file order, checked to be speakable (letters, ' and spaces)."""
    texts: Dict[str, None] = {}  # ordered and without repeats
    for line, entry in enumerate(read_manifest(manifest), 1):
        with open(entry.txt_path, encoding="utf-8") as handle:
            text = " ".join(handle.read().split()).upper()
        if not text or not SPEAKABLE.fullmatch(text):
            raise PrepError(f"{manifest}, line {line}: transcript {entry.txt_path} is not words of letters and "
                            f"apostrophes: {text[:60]!r}")
        texts[text] = None
    if not texts:
        raise PrepError(f"{manifest}: no utterances")
    return list(texts)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, str]:
    parser = argparse.ArgumentParser(description="Synthesise an offline spoken corpus (split by TTS voice): random "
                                                 "digit strings, or the transcripts of a manifest (--texts_from).")
    parser.add_argument("--target_dir", required=True)
    parser.add_argument("--n_train", type=int, default=1500)
    parser.add_argument("--n_test", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--texts_from", metavar="MANIFEST",
                        help="say these transcripts (each once, in a seeded order, before any repeats) instead of digits")
    parser.add_argument("--join", metavar="MANIFEST",
                        help="also write --joined_manifest: MANIFEST's utterances plus the synthetic training ones")
    parser.add_argument("--joined_manifest", metavar="PATH")
    parser.add_argument("--max_duration", type=float, default=None,
                        help="seconds: longer utterances are left out of --joined_manifest")
    args = parser.parse_args(argv)
    if bool(args.join) != bool(args.joined_manifest):
        raise PrepError("--join and --joined_manifest go together")
    texts = manifest_texts(args.texts_from) if args.texts_from else None
    manifests = build_tts_corpus(args.target_dir, args.n_train, args.n_test, args.seed, args.workers, texts)
    if args.join:
        count = join_manifests(args.joined_manifest, [args.join, manifests["train"]], args.max_duration)
        log(f"{args.join} + {args.n_train} synthetic utterances, those up to {args.max_duration or 'any'} s: "
            f"{count} -> {args.joined_manifest}")
        manifests["joined"] = args.joined_manifest
    return manifests


if __name__ == "__main__":
    raise SystemExit(run_main(main, prefix="[prep] ", resumable=True))
