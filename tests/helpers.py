"""Small real-audio data sets for tests, made from ../shared/data (FSDD, resampled with sox)."""
import glob
import os
import subprocess

import numpy as np
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the project
SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
FSDD = os.path.join(SHARED, "fsdd", "recordings")
LIBRI = os.path.join(SHARED, "librispeech-sample", "LibriSpeech")
WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]


def fsdd_manifest(folder, speakers=("jackson",), per_digit=2, name="m.csv"):
    """A CSV manifest of FSDD clips converted to 16 kHz wav; returns its path."""
    os.makedirs(folder, exist_ok=True)
    lines = []
    for speaker in speakers:
        for digit in range(10):
            for index in range(per_digit):
                base = f"{digit}_{speaker}_{index}"
                wav, txt = os.path.join(folder, base + ".wav"), os.path.join(folder, base + ".txt")
                if not os.path.exists(wav):
                    subprocess.run(["sox", os.path.join(FSDD, base + ".wav"), "-r", "16000", "-b", "16", wav],
                                   check=True, capture_output=True)
                with open(txt, "w") as fh:
                    fh.write(WORDS[digit].lower() + "\n")
                lines.append(f"{wav},{txt}")
    path = os.path.join(folder, name)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


# train.py flags for tests whose subject is the training loop, not the convs: one padded width for FSDD's clips
# (<= 1.32 s, <= 147 frames with speed perturbation) and the direct conv kernel, whose graph compiles ~4x faster
# than the MatMul convs' (a tiny 2-epoch train.py: 17 s against 41 s; docs/speed.md, graph compile time)
FAST_LOOP = ["--pad_multiple", "160", "--conv_impl", "direct"]


def random_checkpoint(path, hidden_size=64, hidden_layers=2, seed=0, n_mels=0, normalize="utterance"):
    """A tiny network with seeded random weights saved as a checkpoint: for the plumbing of eval,
    export and transcription without spending minutes on training. Returns its path.

    The weights are the network's own initialisation (batch-norm statistics untouched); tests that
    compare an exported model with its checkpoint want trained-looking weights instead, where a wrongly
    mapped statistic shows: ``tests/export/tiny_checkpoint.write_tiny_checkpoint``. ``n_mels`` /
    ``normalize``: a network for those features, recorded in the file as training records them."""
    import mindspore as ms

    from src.data.features import SpectParams, feature_meta
    from src.model.checkpoint import save_checkpoint
    from src.model.deepspeech2 import DeepSpeechModel

    ms.set_seed(seed)
    params = SpectParams(n_mels=n_mels, normalize=normalize)
    return save_checkpoint(DeepSpeechModel(29, hidden_size, hidden_layers, "tanh", n_bins=params.n_bins), str(path),
                           feature_meta(params))


def speech_batch(frames=120, shorter_by=37, clips=2):
    """Real utterances of the LibriSpeech sample as a padded batch: (N, 1, 161, frames) float32 and
    lengths (N,) int32, the first ``frames`` long, the others ``shorter_by`` frames fewer each (so the
    batch has padding)."""
    import numpy as np

    from src.data.features import audio_features

    paths = sorted(glob.glob(os.path.join(LIBRI, "test-other", "*", "*", "*.flac")))[:clips]
    lengths = np.array([max(frames - i * shorter_by, 1) for i in range(clips)], np.int32)
    specs = [audio_features(path)[0] for path in paths]
    batch = np.zeros((clips, 1, specs[0].shape[0], frames), np.float32)
    for i, (spec, length) in enumerate(zip(specs, lengths)):
        batch[i, 0, :, :length] = spec[:, :length]
    return batch, lengths


def manifest_rows(path, max_seconds=None):
    """Rows of a prepared CSV manifest, checked: absolute existing files, 16 kHz mono 16-bit wav,
    sorted by duration (each under ``max_seconds`` if given)."""
    rows = [line.split(",") for line in open(path, encoding="utf-8").read().splitlines()]
    assert all(len(r) == 2 for r in rows)
    durations = []
    for wav, txt in rows:
        assert os.path.isabs(wav) and os.path.isfile(wav)
        assert os.path.isabs(txt) and os.path.isfile(txt)
        info = soundfile.info(wav)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        if max_seconds is not None:
            assert 0.3 < info.duration < max_seconds
        durations.append(info.duration)
    assert durations == sorted(durations)
    return rows


def mtime_snapshot(folder):
    """path -> mtime of every file below ``folder``: equal snapshots mean nothing was rewritten."""
    return {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(folder, "**"), recursive=True)
            if os.path.isfile(p)}


def libri_tarball(path, part="test-other", speakers=None):
    """A LibriSpeech-style ``.tar.gz`` of the real sample (``LibriSpeech/<part>/<speaker>/...``), optionally
    only some speakers and under another part name (e.g. ``train-clean-100``); returns its path."""
    import tarfile

    source = os.path.join(LIBRI, "test-other")
    with tarfile.open(path, "w:gz") as tar:
        for speaker in sorted(os.listdir(source)):
            if speakers is None or speaker in speakers:
                tar.add(os.path.join(source, speaker), arcname=f"LibriSpeech/{part}/{speaker}")
    return str(path)


class FileServer:
    """A real HTTP server on 127.0.0.1 serving ``folder``, with Range support (as mirrors have), a log of
    requested paths and Range headers, and ``cut_after`` to break off the next tarball reply after N bytes."""

    def __init__(self, folder):
        import http.server
        import threading

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                path = os.path.join(folder, self.path.lstrip("/"))
                if not os.path.isfile(path):
                    self.send_error(404, "File not found")
                    return
                data = open(path, "rb").read()
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.cut_after is not None and self.path.endswith(".tar.gz"):
                    body, server.cut_after = body[:server.cut_after], None
                    self.close_connection = True
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.requests, self.cut_after = [], None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def run_script(script, *args, check=True, timeout=120):
    """Run a top-level entry point (``librispeech.py`` ...) from the project root as a user would."""
    import sys

    proc = subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{script} {args} exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr}"
    return proc


# What src/data/sample_check.py says about each entry of bad_manifest(): (file stem, reason in the report)
BAD_ENTRIES = [
    ("nope", "audio file missing"),
    ("notxt", "transcript file missing"),
    ("random", "unreadable or corrupt audio"),
    ("zero", "empty audio"),
    ("hdronly", "empty audio"),
    ("emptytxt", "empty transcript"),
    ("cjk", "empty transcript"),
    ("latin1", "unreadable transcript"),
    ("toolongtxt", "transcript too long for its audio (cannot be aligned by CTC)"),
    ("long", "longer than max_duration 10 s"),
    ("manylabels", "more labels than label_pad_length 12"),
    ("just one field", "malformed manifest line"),
    ("outside", "path outside the manifest's root"),
]


def bad_manifest(folder, good=4):
    """A CSV manifest of ``good`` real 16 kHz FSDD clips plus one entry per kind of bad input.

    Also kept, with a note: an 8 kHz clip (resampled), a stereo clip (downmixed), a transcript
    with '!' (removed) and a clip of NaN samples (only a full decode finds it; training gives
    its row weight 0). Use with ``--max_duration 10 --label_pad_length 12``.
    """
    import numpy as np

    os.makedirs(folder, exist_ok=True)
    rows = open(fsdd_manifest(os.path.join(folder, "good"), per_digit=1)).read().split()[:good]
    clip = rows[0].split(",")[0]
    audio, _ = soundfile.read(clip, dtype="float32")

    def put(name, text="seven", raw=None, samples=None, rate=16000):
        wav, txt = os.path.join(folder, name + ".wav"), os.path.join(folder, name + ".txt")
        if raw is not None:
            with open(wav, "wb") as fh:
                fh.write(raw)
        if samples is not None:
            soundfile.write(wav, samples, rate, subtype="FLOAT")
        if text is not None:
            with open(txt, "wb") as fh:
                fh.write(text if isinstance(text, bytes) else text.encode())
        return f"{wav},{txt}"

    wav_bytes = open(clip, "rb").read()
    lines = rows + [
        f"{folder}/nope.wav,{folder}/nope.txt",
        put("notxt", text=None, samples=audio),
        put("random", raw=np.random.default_rng(0).bytes(3000)),
        put("zero", raw=b""),
        put("hdronly", raw=wav_bytes[:44]),
        put("emptytxt", text="  \n", samples=audio),
        put("cjk", text="\u4e03", samples=audio),
        put("latin1", text="z\xe9ro".encode("latin-1"), samples=audio),
        put("toolongtxt", text="far too long a transcript for a spoken digit " * 4, samples=audio),
        put("long", text="one", samples=np.random.default_rng(1).standard_normal(16000 * 11).astype(np.float32) * .05),
        put("manylabels", text="zero zero zero", samples=audio),
        "just one field",
        "../outside.wav,../outside.txt",
        put("rate8k", text="seven", raw=open(os.path.join(FSDD, "7_jackson_0.wav"), "rb").read()),
        put("stereo", text="seven", samples=np.stack([audio, audio], 1)),
        put("chars", text="seven!", samples=audio),
        put("nan", text="one", samples=np.full(8000, np.nan, np.float32)),
    ]
    path = os.path.join(folder, "bad.csv")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def assert_same_parameters(path, reference):
    """Every float tensor of the two checkpoints (weights, Adam moments, BN statistics) equal to fp32 precision."""
    from src.model.checkpoint import load_param_dict
    a, b = load_param_dict(str(path)), load_param_dict(str(reference))
    assert set(a) == set(b)
    for key in a:
        if hasattr(a[key], "asnumpy") and key != "learning_rate":
            np.testing.assert_allclose(a[key].asnumpy(), b[key].asnumpy(), rtol=1e-5, atol=1e-6, err_msg=key)
