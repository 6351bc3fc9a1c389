import hashlib
import os

import pytest

from src.prep.download import OFFICIAL_MD5, download, read_checksums, verify_md5
from src.prep.librispeech import PART_SPLIT
from src.prep.common import PrepError
from tests.helpers import FileServer


def test_official_table_covers_every_part():
    assert set(OFFICIAL_MD5) == {p + ".tar.gz" for p in PART_SPLIT}
    assert all(len(md5) == 32 and int(md5, 16) >= 0 for md5 in OFFICIAL_MD5.values())


def test_read_checksums_from_file_and_url(tmp_path):
    listing = tmp_path / "md5sum.txt"
    listing.write_text(f"{'a' * 32}  dev-clean.tar.gz\n\n{'B' * 32} *sub/test-clean.tar.gz\n")
    assert read_checksums(str(listing)) == {"dev-clean.tar.gz": "a" * 32, "test-clean.tar.gz": "b" * 32}
    with FileServer(str(tmp_path)) as server:
        assert read_checksums(server.url + "md5sum.txt") == read_checksums(str(listing))
        with pytest.raises(PrepError, match="cannot read checksum list .*nothere"):
            read_checksums(server.url + "nothere")
    listing.write_text("not a checksum line\n")
    with pytest.raises(PrepError, match=r"md5sum.txt:1: expected '<md5>  <file name>'"):
        read_checksums(str(listing))


def test_download_checks_size_and_md5(tmp_path):
    served = tmp_path / "srv"
    served.mkdir()
    data = os.urandom(300000)
    (served / "f.tar.gz").write_bytes(data)
    md5 = hashlib.md5(data).hexdigest()
    dest = str(tmp_path / "dl" / "f.tar.gz")
    with FileServer(str(served)) as server:
        server.cut_after = 1000
        with pytest.raises(PrepError, match=r"truncated: 1000 of 300000 bytes; re-run to resume"):
            download(server.url + "f.tar.gz", dest, md5)
        with pytest.raises(PrepError, match="does not match its checksum .*it was removed"):
            download(server.url + "f.tar.gz", dest, "0" * 32)  # resumed from byte 1000, then wrong md5
        assert server.requests[-1][1] == "bytes=1000-" and not os.path.exists(dest + ".part")
        assert download(server.url + "f.tar.gz", dest, md5) == dest
        assert open(dest, "rb").read() == data and not os.path.exists(dest + ".part")
        with pytest.raises(PrepError, match="HTTP 404"):
            download(server.url + "g.tar.gz", str(tmp_path / "dl" / "g.tar.gz"), None)
    verify_md5(dest, None, "")  # nothing known: nothing to check
    with pytest.raises(PrepError, match="cannot download"):
        download("http://127.0.0.1:9/x.tar.gz", str(tmp_path / "x.tar.gz"), None)  # port 9: nobody listens
