"""Small real-audio data sets for tests, made from ../shared/data (FSDD, resampled with sox)."""
import glob
import os
import subprocess

import soundfile

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

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, script, *args], cwd=root, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{script} {args} exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr}"
    return proc
