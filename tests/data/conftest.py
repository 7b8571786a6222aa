"""Fixtures for the data tests: an isolated data home, IDX files written by hand, and a local HTTP server."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C}
IDX_CODES |= {np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``, built from the format's definition with struct."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_gz(path: Path, data: bytes) -> str:
    """Writes ``data`` gzip-compressed to ``path``; returns the SHA-256 of the written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FakeMnist:
    """A tiny MNIST-format folder: 6 train and 4 test images with known pixels and labels."""

    names = {
        "train_x": "train-images-idx3-ubyte.gz",
        "train_y": "train-labels-idx1-ubyte.gz",
        "test_x": "t10k-images-idx3-ubyte.gz",
        "test_y": "t10k-labels-idx1-ubyte.gz",
    }

    def __init__(self, folder: Path):
        rng = np.random.default_rng(0)
        self.folder = folder
        self.arrays = {
            "train_x": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
            "train_y": np.array([3, 1, 4, 1, 5, 9], dtype=np.uint8),
            "test_x": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
            "test_y": np.array([2, 6, 5, 3], dtype=np.uint8),
        }
        self.checksums = {self.names[k]: write_gz(folder / self.names[k], idx_bytes(a)) for k, a in self.arrays.items()}


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Points $JAXNN_DATA_DIR and $HOME at a fresh folder, so that no test reads or writes a real cache."""
    home = tmp_path / "data-home"
    monkeypatch.setenv("JAXNN_DATA_DIR", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return home


@pytest.fixture
def make_idx():
    """:func:`idx_bytes`, for tests to encode their own arrays."""
    return idx_bytes


@pytest.fixture
def fake_mnist(tmp_path: Path) -> FakeMnist:
    return FakeMnist(tmp_path / "fake-mnist")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; under /drop/ it promises more bytes than it sends, then hangs up."""

    def __init__(self, *args, requests: list[str], **kwargs):
        self.requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path.startswith("/drop/"):
            body = b"\x1f\x8b partial body"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


class Server:
    """A file server on 127.0.0.1: ``url`` is the base URL of ``root``; ``requests`` lists the paths asked."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        handler = functools.partial(_Handler, directory=str(root), requests=self.requests)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    # A proxy configured on a developer's machine must not intercept requests to the local server.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    s = Server(tmp_path / "served")
    s.root.mkdir()
    yield s
    s.close()


@pytest.fixture
def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: every request to it fails to connect."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
