"""A parser for the IDX format of MNIST-style files, gzip-compressed or not.

An IDX file is a 4-byte magic number (two zero bytes, a type code and the number of dimensions), one
big-endian uint32 per dimension, then the array itself in big-endian C order.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (``.gz`` or plain, told apart by content) into a native-endian NumPy array.

    Args:
        path: The file to read.

    Returns:
        The array, with the shape and element type that the file header declares.

    Raises:
        ValueError: if the file is not valid gzip, has a bad magic number, or its length does not match the
            dimensions in its header (e.g. a truncated download). The message names the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"{path} is not a valid gzip file ({e}); it is probably truncated. Delete it and download or "
                "copy it again."
            ) from e
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parses the uncompressed bytes of an IDX file; ``name`` labels the data in error messages.

    Raises:
        ValueError: as :func:`read_idx`.
    """
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _TYPES or raw[3] == 0:
        raise ValueError(
            f"{name} is not an IDX file: its magic number is {raw[:4].hex() or 'missing'}, expected "
            "0000TTDD with type TT in {08, 09, 0b, 0c, 0d, 0e} and DD >= 1 dimensions. Replace it with an "
            "intact copy."
        )
    dtype, ndim = np.dtype(_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name} is truncated inside its header ({len(raw)} bytes); replace it with an intact copy.")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{name} has the wrong length: its header declares shape {shape} of {dtype.name}, which takes "
            f"{expected} bytes, but the data holds {len(raw)}. The file is truncated or corrupt; replace it "
            "with an intact copy."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
