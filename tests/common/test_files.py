"""src/common/files.py: atomic writes leave either the old file or the new one, never a part, and no
temporary file; leftovers of killed writers are reaped, files of live writers are not."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from src.common.files import (atomic_copy, atomic_path, atomic_write, atomic_write_text, is_temp_name, pid_alive,
                              remove_stale_temps, temp_path_for)
from tests.helpers import ROOT


def temps(folder):
    return [name for name in os.listdir(folder) if is_temp_name(name)]


def test_success_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with atomic_write(str(path)) as fh:
        fh.write("new ü")
        assert path.read_text() == "old"  # not visible before the block ends
    assert path.read_text(encoding="utf-8") == "new ü" and temps(tmp_path) == []
    with atomic_write(str(tmp_path / "b.bin"), "wb", fsync=False) as fh:
        fh.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01" and sorted(os.listdir(tmp_path)) == ["a.json", "b.bin"]
    with pytest.raises(ValueError, match="mode 'w' or 'wb'"):
        with atomic_write(str(path), "a"):
            pass


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_an_exception_leaves_the_old_file_and_nothing_else(tmp_path, error):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(type(error)):
        with atomic_write(str(path)) as fh:
            fh.write("half")
            raise error
    with pytest.raises(type(error)):
        with atomic_path(str(tmp_path / "new.txt")) as tmp:
            open(tmp, "w").write("half")
            raise error
    assert sorted(os.listdir(tmp_path)) == ["a.txt"] and path.read_text() == "old"


def test_a_path_writer_sees_the_final_extension(tmp_path):
    """np.save appends ".npy" to a path without it, so the temporary name must end in the target's."""
    with atomic_path(str(tmp_path / "x.npy")) as tmp:
        assert os.path.basename(tmp).endswith("-x.npy") and is_temp_name(os.path.basename(tmp))
        np.save(tmp, np.arange(3))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(3))
    assert os.listdir(tmp_path) == ["x.npy"]


def test_concurrent_writers_of_one_file_never_share_a_temp(tmp_path):
    path = str(tmp_path / "entry.bin")
    assert len({temp_path_for(path) for _ in range(50)}) == 50
    for name in temps(tmp_path):
        os.remove(tmp_path / name)
    payloads = [bytes([i]) * 200_000 for i in range(8)]

    def write(data):
        with atomic_write(path, "wb", fsync=False) as fh:
            fh.write(data)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert open(path, "rb").read() in payloads and os.listdir(tmp_path) == ["entry.bin"]


def test_atomic_write_text_skips_identical_content_and_creates_the_folder(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    assert atomic_write_text(str(path), "HELLO WORLD\n")
    before = os.stat(path).st_mtime_ns
    assert not atomic_write_text(str(path), "HELLO WORLD\n")
    assert os.stat(path).st_mtime_ns == before
    assert atomic_write_text(str(path), "OTHER\n") and path.read_text() == "OTHER\n"
    assert atomic_copy(str(path), str(tmp_path / "b.txt")) == str(tmp_path / "b.txt")
    assert (tmp_path / "b.txt").read_text() == "OTHER\n" and temps(tmp_path) == temps(tmp_path / "sub") == []


WRITER = """
import sys, time
from src.common.files import atomic_write
with atomic_write(sys.argv[1]) as fh:
    fh.write("partial")
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_leftovers_of_dead_writers_are_reaped_and_live_ones_kept(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "a.txt")], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        [live] = temps(tmp_path)
        assert live.startswith(f".tmp-{writer.pid}-")
        ours = temp_path_for(str(tmp_path / "b.txt"))  # this process is alive too
        dead = subprocess.Popen(["true"])
        dead.wait()
        legacy = tmp_path / f".tmp-{dead.pid}-DS-1_1.ckpt"  # checkpoints' earlier form
        for name in (f".tmp-{dead.pid}-ab12cd34-c.wav", legacy.name, "d.wav", ".hidden"):
            (tmp_path / name).write_bytes(b"x")
        logged = []
        assert remove_stale_temps(str(tmp_path), logged.append) == 2
        assert logged == [f"removed 2 leftover temporary file(s) in {tmp_path}"]
        assert sorted(os.listdir(tmp_path)) == sorted([live, os.path.basename(ours), "d.wav", ".hidden"])

        writer.kill()  # killed mid-write: the target never appears, its temporary file stays...
        deadline = time.monotonic() + 10
        while pid_alive(writer.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pid_alive(writer.pid)  # a zombie now (not waited for): dead for the reaper
        assert remove_stale_temps(str(tmp_path)) == 1  # ...until the next reaping
        assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(ours), "d.wav", ".hidden"])
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    assert remove_stale_temps(str(tmp_path / "missing")) == 0


def test_pid_alive():
    assert pid_alive(os.getpid()) and pid_alive(os.getppid())
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert not pid_alive(proc.pid)
