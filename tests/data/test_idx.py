import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxnn.data import parse_idx, read_idx


def test_parses_hand_built_bytes_of_every_type():
    # Each payload packed element by element with struct, so the expected values do not go through NumPy.
    cases = [
        (0x08, "B", [0, 7, 255], np.uint8),
        (0x09, "b", [-128, -1, 127], np.int8),
        (0x0B, "h", [258, -2, 32767], np.int16),
        (0x0C, "i", [70000, -2, 1], np.int32),
        (0x0D, "f", [1.5, -0.25, 3.0], np.float32),
        (0x0E, "d", [1e-300, -2.5, 1e300], np.float64),
    ]
    for code, fmt, values, dtype in cases:
        raw = struct.pack(">BBBBI", 0, 0, code, 1, 3) + struct.pack(f">3{fmt}", *values)
        out = parse_idx(raw)
        assert out.dtype == dtype and out.dtype.isnative
        assert out.tolist() == values


def test_shape_comes_from_the_header():
    raw = struct.pack(">BBBB3I", 0, 0, 0x08, 3, 2, 3, 4) + bytes(range(24))
    out = parse_idx(raw)
    assert out.shape == (2, 3, 4)
    assert out[1, 2, 3] == 23 and out[0, 1, 0] == 4


# The fixtures used are stateless, so sharing them across examples is safe.
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hnp.arrays(st.sampled_from([np.uint8, np.int16, np.float32]), hnp.array_shapes(max_dims=4, max_side=5)))
def test_round_trip_through_gzip_file(tmp_path_factory, make_idx, array):
    path = tmp_path_factory.mktemp("idx") / "a-idx.gz"
    path.write_bytes(gzip.compress(make_idx(array)))
    np.testing.assert_array_equal(read_idx(path), array)


def test_reads_uncompressed_file_whatever_its_suffix(tmp_path, make_idx):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "plain.gz"
    path.write_bytes(make_idx(array))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    "header",
    [b"", b"\x00", b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b"PK\x03\x04"],
    ids=["empty", "short", "nonzero-prefix", "unknown-type", "zero-dims", "zip"],
)
def test_bad_magic_number(header):
    with pytest.raises(ValueError, match="magic number"):
        parse_idx(header + bytes(16), "f.idx")


@pytest.mark.parametrize("delta", [-1, 1], ids=["truncated", "trailing-byte"])
def test_length_must_match_header(make_idx, delta):
    raw = make_idx(np.zeros((10, 3), np.uint8))
    raw = raw[:delta] if delta < 0 else raw + b"\x00"
    with pytest.raises(ValueError, match=r"f\.idx has the wrong length.*\(10, 3\)"):
        parse_idx(raw, "f.idx")


def test_truncated_header():
    with pytest.raises(ValueError, match="truncated inside its header"):
        parse_idx(struct.pack(">BBBBI", 0, 0, 0x08, 3, 60000), "f.idx")


def test_truncated_gzip_names_the_file(tmp_path, make_idx):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(make_idx(np.zeros((100, 28, 28), np.uint8)))[:-20])
    with pytest.raises(ValueError, match=r"cut\.gz is not a valid gzip file"):
        read_idx(path)
