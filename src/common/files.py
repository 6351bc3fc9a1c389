"""Writing files so that a file under its final name is always complete, and reaping what killed writers left.

Every writer puts its bytes into a hidden temporary file beside the target, named
``.tmp-<pid>-<token>-<final name>``: the same folder, so the closing ``os.replace`` is atomic; the
final name last, so writers that choose the format by the extension (matplotlib's ``savefig``,
MindSpore, numpy) see the right one. On success the data is flushed to disk (``fsync``) and the
file renamed over the target; on any exception, Ctrl-C included, the temporary file is removed and
the target is untouched. A process killed outright (SIGKILL, power loss) cannot clean up: the pid in
the name lets :func:`remove_stale_temps` tell its leftovers from the files of writers still running.
Code that lists a folder by extension must skip these hidden names (``glob`` does; ``os.listdir``
does not: use :func:`is_temp_name`).
"""
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from typing import IO, Callable, Iterator, Optional

TEMP_PREFIX = ".tmp-"
# ".tmp-<pid>-<token>-<name>"; older checkpoint saves wrote ".tmp-<pid>-<name>", which matches too
_TEMP_NAME = re.compile(r"^" + re.escape(TEMP_PREFIX) + r"(\d+)-.")


def is_temp_name(name: str) -> bool:
    """True for a file name this module gives temporary files (live or left over)."""
    return _TEMP_NAME.match(name) is not None


def temp_path_for(path: str) -> str:
    """Create an empty, uniquely named temporary file beside ``path`` and return its path.

    For writers that need a path, not a file object (sox, TTS engines). The caller removes it, or
    renames it into place; :func:`atomic_path` does both. Created like ``open(path, "w")`` would
    (permissions from the umask), and exclusively, so concurrent writers of one target (data
    workers filling a cache) never share a temporary file.
    """
    folder, name = os.path.split(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)  # an output folder that does not exist yet is made, as open() users expect
    while True:
        tmp = os.path.join(folder, f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{name}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def remove_quietly(path: str) -> None:
    """Delete a file if it exists (cleaning up must not itself fail)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str, fsync: bool = True) -> Iterator[str]:
    """``with atomic_path(final) as tmp:`` write ``tmp`` by name; on success it becomes ``final``.

    For writers that take a path (soundfile, ``savefig``, ``ms.save_checkpoint``, sox). The
    temporary file exists (empty) when the block starts. ``fsync=False`` skips the flush to disk,
    for bulk files that are re-checked before re-use anyway (their size or header): an fsync took
    about 5 ms per file on this machine's disk: over an hour for the 3 files of each of full
    LibriSpeech's 281k utterances.
    """
    tmp = temp_path_for(path)
    try:
        yield tmp
        if fsync:
            _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


@contextmanager
def atomic_write(path: str, mode: str = "w", fsync: bool = True, encoding: str = "utf-8") -> Iterator[IO]:
    """``with atomic_write(final) as fh:`` write through ``fh`` (mode ``"w"`` text or ``"wb"`` bytes);
    ``final`` is replaced only when the block completes (see :func:`atomic_path`)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path, fsync=False) as tmp:
        with open(tmp, mode, encoding=None if mode == "wb" else encoding) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())


def atomic_write_text(path: str, text: str) -> bool:
    """Write ``text`` to ``path`` atomically, creating its folder; returns False (and leaves the file
    and its mtime alone) if it already holds exactly this text, so re-runs touch nothing."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as fh:
        fh.write(text)
    return True


def atomic_copy(src: str, dst: str) -> str:
    """Copy ``src`` to ``dst`` atomically (e.g. the best checkpoint so far); returns ``dst``."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists and is not a zombie (a killed writer lingers as one until reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OverflowError:
        return False  # not a pid at all
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale_temps(folder: str, log: Optional[Callable[[str], None]] = None) -> int:
    """Delete the temporary files in ``folder`` whose writer process is gone; returns how many.

    Files of live processes, this one included, are kept: they may be being written right now.
    ``log`` gets one line when something was removed.
    """
    if not os.path.isdir(folder):
        return 0
    removed = 0
    for name in os.listdir(folder):
        match = _TEMP_NAME.match(name)
        if match and not pid_alive(int(match.group(1))):
            remove_quietly(os.path.join(folder, name))
            removed += 1
    if removed and log is not None:
        log(f"removed {removed} leftover temporary file(s) in {folder}")
    return removed
