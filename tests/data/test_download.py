import hashlib
import os

import pytest

from jaxnn.data.download import DownloadError, ensure_files, fetch, sha256

GOOD = b"\x1f\x8b some file content" * 100
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


def test_sha256_matches_the_standard_test_vector(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    assert sha256(tmp_path / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_fetch_good_file(server, tmp_path):
    (server.root / "f.gz").write_bytes(GOOD)
    dest = tmp_path / "out" / "f.gz"
    fetch(server.url + "f.gz", dest, GOOD_SHA)
    assert dest.read_bytes() == GOOD
    assert os.listdir(dest.parent) == ["f.gz"]


def test_fetch_wrong_checksum_keeps_nothing(server, tmp_path):
    (server.root / "f.gz").write_bytes(GOOD)
    dest = tmp_path / "out" / "f.gz"
    with pytest.raises(DownloadError, match=f"SHA-256 mismatch: expected {'0' * 64}, got {GOOD_SHA}"):
        fetch(server.url + "f.gz", dest, "0" * 64)
    assert os.listdir(dest.parent) == []


def test_fetch_truncated_file_fails_checksum(server, tmp_path):
    (server.root / "f.gz").write_bytes(GOOD[:-10])
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch(server.url + "f.gz", tmp_path / "f.gz", GOOD_SHA)
    assert os.listdir(tmp_path) == ["served"]


def test_connection_dropped_mid_body_leaves_no_partial_file(server, tmp_path):
    dest = tmp_path / "out" / "f.gz"
    with pytest.raises(DownloadError, match=r"connection closed after \d+ of \d+ bytes"):
        fetch(server.url + "drop/f.gz", dest, GOOD_SHA)
    assert os.listdir(dest.parent) == []


def test_ensure_files_downloads_only_missing_files(server, tmp_path):
    (server.root / "a.gz").write_bytes(GOOD)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "b.gz").write_bytes(b"placed by hand")
    sums = {"a.gz": GOOD_SHA, "b.gz": "1" * 64}  # b.gz is present, so its checksum is not consulted
    assert ensure_files(folder, sums, [server.url]) == {"a.gz"}
    assert server.requests == ["/a.gz"]
    assert ensure_files(folder, sums, [server.url]) == set()
    assert server.requests == ["/a.gz"]


def test_falls_back_to_next_mirror(server, tmp_path):
    (server.root / "good").mkdir()
    (server.root / "good" / "a.gz").write_bytes(GOOD)
    (server.root / "bad").mkdir()
    (server.root / "bad" / "a.gz").write_bytes(b"tampered")
    mirrors = [server.url + "missing/", server.url + "bad", server.url + "good/"]
    assert ensure_files(tmp_path / "d", {"a.gz": GOOD_SHA}, mirrors) == {"a.gz"}
    assert server.requests == ["/missing/a.gz", "/bad/a.gz", "/good/a.gz"]
    assert (tmp_path / "d" / "a.gz").read_bytes() == GOOD


def test_offline_error_names_every_missing_file_and_the_folder(dead_url, tmp_path):
    folder = tmp_path / "d"
    with pytest.raises(DownloadError) as e:
        ensure_files(folder, {"a.gz": GOOD_SHA, "b.gz": GOOD_SHA}, [dead_url])
    msg = str(e.value)
    assert f"{dead_url}a.gz: URLError" in msg
    assert f"Files missing from {folder}: a.gz, b.gz" in msg
    assert not folder.exists() or os.listdir(folder) == []


def test_all_mirrors_bad_reports_each(server, tmp_path):
    (server.root / "a.gz").write_bytes(b"tampered")
    with pytest.raises(DownloadError) as e:
        ensure_files(tmp_path / "d", {"a.gz": GOOD_SHA}, [server.url, server.url + "nope/"])
    assert "a.gz: SHA-256 mismatch" in str(e.value)
    assert "nope/a.gz: HTTPError" in str(e.value)


def test_no_download_when_disabled(server, tmp_path):
    (server.root / "a.gz").write_bytes(GOOD)
    with pytest.raises(FileNotFoundError, match=f"download=False.*missing from {tmp_path}: a.gz"):
        ensure_files(tmp_path, {"a.gz": GOOD_SHA}, [server.url], download=False)
    assert server.requests == []
