"""Unpacking a downloaded ``.tar.gz`` safely, resumably and with a clear error when it is damaged.

Each member is written under a temporary name and renamed, so a file under its final name is
complete; an interrupted unpack is resumed by skipping members already present with the right
size. A stamp file written last marks the whole tree as complete. Member paths that would land
outside the destination (absolute, ``..``) are refused, and links/devices are skipped: an archive
from a mirror is data, not something allowed to write anywhere.
"""
import gzip
import os
import shutil
import tarfile
import zlib

from src.common.files import atomic_write, atomic_write_text, remove_stale_temps
from src.prep.common import PrepError, Progress, log

STAMP_NAME = ".extracted"
_DAMAGED = (tarfile.ReadError, tarfile.StreamError, EOFError, zlib.error, gzip.BadGzipFile)


def _stamp_text(tar_path: str) -> str:
    return f"{os.path.basename(tar_path)} {os.path.getsize(tar_path)}\n"


def is_extracted(tar_path: str, dest_dir: str) -> bool:
    """True if ``dest_dir`` holds a complete unpack of this very archive (same name and size)."""
    try:
        with open(os.path.join(dest_dir, STAMP_NAME), encoding="utf-8") as fh:
            return fh.read() == _stamp_text(tar_path)
    except OSError:
        return False


def _safe_target(dest_dir: str, name: str, tar_path: str) -> str:
    parts = name.replace("\\", "/").split("/")
    if name.startswith("/") or ".." in parts:
        raise PrepError(f"archive {tar_path} has an unsafe member path {name!r}; refusing to unpack it")
    return os.path.join(dest_dir, *[p for p in parts if p not in ("", ".")])


def extract_tarball(tar_path: str, dest_dir: str) -> str:
    """Unpack ``tar_path`` (any compression tarfile reads) into ``dest_dir``; returns ``dest_dir``.

    Reads the archive as a stream, so huge tarballs need no random access, and prints progress
    with an ETA by compressed bytes read. A truncated or corrupt archive raises a PrepError that
    says so and what to do; members unpacked before the damage stay (they are complete).
    """
    dest_dir = os.path.abspath(dest_dir)
    if is_extracted(tar_path, dest_dir):
        return dest_dir
    if not os.path.isfile(tar_path):
        raise PrepError(f"archive not found: {tar_path}")
    os.makedirs(dest_dir, exist_ok=True)
    name = os.path.basename(tar_path)
    progress = Progress(os.path.getsize(tar_path), f"unpack {name}", unit="MB", scale=1e6)
    cleaned, written, skipped = set(), 0, 0
    with open(tar_path, "rb") as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r|*") as tar:
                for member in tar:
                    target = _safe_target(dest_dir, member.name, tar_path)
                    if member.isdir():
                        os.makedirs(target, exist_ok=True)
                        continue
                    if not member.isfile():
                        skipped += 1
                        continue
                    folder = os.path.dirname(target)
                    if folder not in cleaned:
                        os.makedirs(folder, exist_ok=True)
                        remove_stale_temps(folder, log)
                        cleaned.add(folder)
                    if os.path.isfile(target) and os.path.getsize(target) == member.size:
                        continue
                    # no fsync: a member cut short by a power loss has the wrong size and is unpacked again
                    with atomic_write(target, "wb", fsync=False) as out:
                        shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)
                    written += 1
                    progress.update(raw.tell())
        except _DAMAGED as err:
            raise PrepError(f"archive {tar_path} is truncated or corrupt ({err}); delete it and "
                            f"download it again") from None
    progress.update(progress.total)
    if skipped:
        log(f"unpack {name}: skipped {skipped} member(s) that are not regular files (links, devices)")
    atomic_write_text(os.path.join(dest_dir, STAMP_NAME), _stamp_text(tar_path))
    log(f"unpack {name}: {written} file(s) written -> {dest_dir}")
    return dest_dir
