"""Fetching and checking the LibriSpeech tarballs (OpenSLR resources 12 and 31, or any mirror of them).

A download goes to ``<name>.part`` and is resumed from there with an HTTP Range request after an
interruption (a 30 GB file should not restart from zero); it gets its final name only after its
size matched the server's and its MD5 matched the published one. So a tarball under its final
name in the download folder is known good, and a damaged one is never unpacked.
"""
import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from typing import Dict, Optional

from src.common.files import remove_quietly
from src.prep.common import PrepError, Progress, log

OFFICIAL_BASE_URL = "https://www.openslr.org/resources/12/"
MINI_BASE_URL = "https://www.openslr.org/resources/31/"  # Mini LibriSpeech: train-clean-5, dev-clean-2
# MD5 of each official tarball, as OpenSLR publishes them (resources/12/md5sum.txt, resources/31/md5sum.txt).
OFFICIAL_MD5: Dict[str, str] = {
    "dev-clean.tar.gz": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other.tar.gz": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean.tar.gz": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other.tar.gz": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100.tar.gz": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360.tar.gz": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500.tar.gz": "d1a0fd59409feb2c614ce4d30c387708",
    "dev-clean-2.tar.gz": "6d7ab67ac6a1d2c993d050e16d61080d",
    "train-clean-5.tar.gz": "5df7d4e78065366204ca6845bb08f490",
}
_CHUNK = 1 << 20
_MD5_LINE = re.compile(r"^([0-9a-fA-F]{32})\s+\*?(\S+)\s*$")


def _fetch_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, OSError, UnicodeDecodeError) as err:
        raise PrepError(f"cannot read checksum list {url}: {getattr(err, 'reason', err)}") from None


def read_checksums(source: str) -> Dict[str, str]:
    """``{file name: md5}`` from an ``md5sum``-style list (``<md5>  <name>`` per line), a path or an URL."""
    if re.match(r"^[a-z]+://", source):
        text = _fetch_text(source)
    else:
        try:
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as err:
            raise PrepError(f"cannot read checksum list {source}: {err.strerror}") from None
    checksums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _MD5_LINE.match(line)
        if not match:
            raise PrepError(f"{source}:{number}: expected '<md5>  <file name>', got {line!r}")
        checksums[os.path.basename(match.group(2))] = match.group(1).lower()
    return checksums


def file_md5(path: str) -> str:
    """MD5 of a file, with progress lines (a 30 GB tarball takes a minute or more)."""
    digest = hashlib.md5()
    progress = Progress(os.path.getsize(path), f"md5 {os.path.basename(path)}", unit="MB", scale=1e6)
    done = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
            done += len(block)
            progress.update(done)
    return digest.hexdigest()


def verify_md5(path: str, expected: Optional[str], hint: str) -> None:
    """Raise a PrepError naming the file if its MD5 is not ``expected`` (None: nothing to check)."""
    if expected is None:
        return
    actual = file_md5(path)
    if actual != expected.lower():
        raise PrepError(f"{path} does not match its checksum (expected md5 {expected}, got {actual}): "
                        f"the file is truncated or corrupt{hint}")


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        return urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: the .part is already whole
            return None
        raise PrepError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise PrepError(f"cannot download {url}: {getattr(err, 'reason', err)}") from None


def _total_size(response, offset: int) -> Optional[int]:
    """Full size of the file from Content-Range (partial reply) or Content-Length (whole reply)."""
    if response.status == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+)", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            raise PrepError(f"server sent an unexpected range for {response.url}: "
                            f"{response.headers.get('Content-Range')!r}")
        return int(match.group(2))
    length = response.headers.get("Content-Length")
    return int(length) if length is not None else None


def download(url: str, dest: str, expected_md5: Optional[str]) -> str:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), check size and MD5, return ``dest``.

    An existing ``dest`` was checked when it was renamed into place and is returned as is.
    """
    if os.path.isfile(dest):
        return dest
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    part = dest + ".part"
    offset = os.path.getsize(part) if os.path.isfile(part) else 0
    response = _open(url, offset)
    total: Optional[int] = offset
    if response is not None:
        with response:
            if response.status != 206:
                offset = 0  # the server ignored the Range header: start over
            total = _total_size(response, offset)
            log(f"download {url} -> {dest}" + (f" (resuming at {offset / 1e6:.1f} MB)" if offset else "")
                + (f", {total / 1e6:.1f} MB" if total else ""))
            progress = Progress(total or 0, f"download {os.path.basename(dest)}", unit="MB", scale=1e6)
            done = offset
            with open(part, "ab" if offset else "wb") as out:
                try:
                    for block in iter(lambda: response.read(_CHUNK), b""):
                        out.write(block)
                        done += len(block)
                        if total:
                            progress.update(done)
                except (OSError, http.client.HTTPException) as err:
                    raise PrepError(f"download of {url} broke off after {done / 1e6:.1f} MB ({err}); "
                                    f"re-run to resume it") from None
    size = os.path.getsize(part)
    if total is not None and size != total:
        raise PrepError(f"download of {url} is truncated: {size} of {total} bytes; re-run to resume it")
    try:
        verify_md5(part, expected_md5, "; it was removed, re-run to download it again")
    except PrepError:
        remove_quietly(part)
        raise
    os.replace(part, dest)
    return dest
