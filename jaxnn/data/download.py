"""Fetching missing data files from a list of mirrors, each checked against its SHA-256 before it is kept."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from tqdm import tqdm

from jaxnn.data.storage import atomic_write

_CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum."""


def sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, path: Path, expected_sha256: str, *, timeout: float = 30.0) -> None:
    """Downloads ``url`` to ``path``, atomically, with a progress bar (shown only on a terminal).

    Raises:
        DownloadError: if the download fails or its SHA-256 differs from ``expected_sha256``; ``path`` is then
            left as it was.
    """
    h, received = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(path) as f:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=path.name, disable=None) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    h.update(chunk)
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            # urllib's chunked read() ends quietly when the server hangs up early, so count the bytes.
            if total is not None and received != total:
                raise DownloadError(f"connection closed after {received} of {total} bytes")
            if h.hexdigest() != expected_sha256:
                raise DownloadError(f"SHA-256 mismatch: expected {expected_sha256}, got {h.hexdigest()}")
    except DownloadError:  # an OSError too: pass our own messages through unwrapped
        raise
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"{type(e).__name__}: {e}") from e


def ensure_files(
    folder: Path,
    checksums: Mapping[str, str],
    mirrors: Sequence[str],
    *,
    download: bool = True,
) -> set[str]:
    """Makes sure every file named in ``checksums`` is in ``folder``, downloading the missing ones.

    Each missing file is tried from each mirror in turn (``mirror + name``) and kept only if its SHA-256
    matches. Files already present are not checked here.

    Args:
        folder: Where the files live.
        checksums: File name to expected hex SHA-256, for every file the data set needs.
        mirrors: Base URLs, tried in order.
        download: If False, a missing file is an error instead of a download.

    Returns:
        The names of the files downloaded by this call.

    Raises:
        FileNotFoundError: if files are missing and ``download`` is False.
        DownloadError: if a missing file could not be downloaded from any mirror.
        Both messages list the files still missing and the folder to put them in.
    """
    missing = [name for name in checksums if not (folder / name).is_file()]
    if missing and not download:
        raise FileNotFoundError(f"download=False, so nothing was fetched. {_place_hint(folder, missing)}")
    downloaded: set[str] = set()
    for name in missing:
        errors = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name
            try:
                fetch(url, folder / name, checksums[name])
                break
            except DownloadError as e:
                errors.append(f"  {url}: {e}")
        else:
            reasons = "\n".join(errors) or "  (no mirrors given)"
            hint = _place_hint(folder, [m for m in missing if m not in downloaded])
            raise DownloadError(f"Could not download {name}:\n{reasons}\n{hint}")
        downloaded.add(name)
    return downloaded


def _place_hint(folder: Path, names: Sequence[str]) -> str:
    return (
        f"Files missing from {folder}: {', '.join(names)}. If this machine is offline, copy them into that "
        "folder by hand (or pass data_dir=<a folder that holds them>)."
    )
