import io
import os
import tarfile

import pytest

from src.common.files import is_temp_name
from src.prep.common import PrepError
from src.prep.tar_extract import STAMP_NAME, extract_tarball, is_extracted
from tests.helpers import mtime_snapshot


def _tarball(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


FILES = {"LibriSpeech/p/1/2/a.flac": b"a" * 5000, "LibriSpeech/p/1/2/1-2.trans.txt": b"1-2-0000 HI\n",
         "LibriSpeech/p/3/4/b.flac": os.urandom(200000)}


def test_extract_resumes_and_skips_when_complete(tmp_path):
    tar = _tarball(tmp_path / "p.tar.gz", FILES)
    dest = tmp_path / "out"
    half = dest / "LibriSpeech" / "p" / "3" / "4"
    half.mkdir(parents=True)
    (half / "b.flac").write_bytes(FILES["LibriSpeech/p/3/4/b.flac"][:1000])  # written by a killed run
    (half / ".tmp-999999999-x-b.flac").write_bytes(b"x")  # and its temp file
    extract_tarball(tar, str(dest))
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data
    assert is_extracted(tar, str(dest)) and (dest / STAMP_NAME).is_file()
    assert not [name for name in os.listdir(half) if is_temp_name(name)]
    before = mtime_snapshot(str(dest))
    (dest / "LibriSpeech" / "p" / "1" / "2" / "a.flac").unlink()
    extract_tarball(tar, str(dest))  # the stamp says complete: the archive is not read again
    assert not (dest / "LibriSpeech" / "p" / "1" / "2" / "a.flac").exists()
    (dest / STAMP_NAME).unlink()
    extract_tarball(tar, str(dest))  # without it, only the missing member is written
    after = mtime_snapshot(str(dest))
    assert {p for p in after if before.get(p) != after[p]} == {str(dest / "LibriSpeech" / "p" / "1" / "2" / "a.flac")}


def test_damaged_or_unsafe_archives_are_refused(tmp_path):
    tar = _tarball(tmp_path / "p.tar.gz", FILES)
    data = open(tar, "rb").read()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(PrepError, match=r"cut.tar.gz is truncated or corrupt .*download it again"):
        extract_tarball(str(tmp_path / "cut.tar.gz"), str(tmp_path / "o1"))
    assert not is_extracted(str(tmp_path / "cut.tar.gz"), str(tmp_path / "o1"))
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b" + os.urandom(5000))
    with pytest.raises(PrepError, match="junk.tar.gz is truncated or corrupt"):
        extract_tarball(str(tmp_path / "junk.tar.gz"), str(tmp_path / "o2"))
    evil = _tarball(tmp_path / "evil.tar.gz", {"../../escape.txt": b"x"})
    with pytest.raises(PrepError, match="unsafe member path '../../escape.txt'"):
        extract_tarball(evil, str(tmp_path / "o3"))
    assert not (tmp_path.parent / "escape.txt").exists()
    with pytest.raises(PrepError, match="archive not found"):
        extract_tarball(str(tmp_path / "none.tar.gz"), str(tmp_path / "o4"))
