"""Tests for jaxnn.checkpoint: bitwise round trips, corruption and mismatch detection, atomicity, rotation."""

import errno
import os
import struct
import tempfile
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxnn import checkpoint
from jaxnn.checkpoint import CheckpointError, latest, load, save, save_step

# Offsets from the documented file format, written out here rather than read from the module.
MAGIC = b"JAXNNCKPT1\n"
PREFIX_LEN = 11 + 16 + 32


class AdamState(NamedTuple):
    step: jax.Array
    mu: dict
    nu: dict | None


class SgdState(NamedTuple):
    step: jax.Array
    mu: dict
    nu: dict | None


def _bf16_from_bits(bits):
    return np.asarray(bits, np.uint16).view(ml_dtypes.bfloat16)


def make_tree(seed=0):
    """A training state touching every supported kind of leaf, with values from a seeded NumPy generator."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    # bf16 bit patterns include -0.0, a subnormal, inf and NaNs with payloads, which must survive bitwise.
    b = _bf16_from_bits([0x8000, 0x0001, 0x7F80, 0x7FC1, 0xFFFF, 0x3F80])
    return {
        "params": {"w": jnp.asarray(w), "b": jnp.asarray(b)},
        "bn": {"count": jnp.asarray(rng.integers(-(2**31), 2**31, (2,)), jnp.int32), "mask": jnp.array([True, False])},
        "opt": AdamState(step=jnp.int32(7), mu={"w": jnp.asarray(w * 2)}, nu=None),
        "raw_key": jax.random.PRNGKey(seed),
        "typed_keys": jax.random.split(jax.random.key(seed + 1), 3),
        # A NumPy scalar holding a signalling NaN, which a round trip through a Python float would quieten.
        "hist": [None, (np.arange(5, dtype=np.uint8), np.uint32(0x7F800001).view(np.float32))],
        "lr": 0.125,
        "epoch": 3,
    }


def _bits(leaf):
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(leaf).tobytes()


def _file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def test_round_trip_is_bitwise_identical(tmp_path):
    tree = make_tree()
    path = tmp_path / "state.jaxnn"
    save(path, tree)
    loaded, metadata = load(path, like=make_tree(seed=1))

    assert metadata == {}
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(tree)
    assert loaded["hist"][0] is None and loaded["opt"].nu is None
    for want, got in zip(jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(loaded), strict=True):
        assert type(got) is type(want) or (isinstance(want, jax.Array) and isinstance(got, jax.Array))
        assert np.shape(got) == np.shape(want)
        assert getattr(got, "dtype", None) == getattr(want, "dtype", None)
        assert _bits(got) == _bits(want)
    assert loaded["params"]["b"].dtype == jnp.bfloat16
    assert loaded["lr"] == 0.125 and type(loaded["epoch"]) is int and loaded["epoch"] == 3
    # Typed keys come back as typed keys that draw the same numbers.
    np.testing.assert_array_equal(
        jax.random.uniform(loaded["typed_keys"][2], (4,)), jax.random.uniform(tree["typed_keys"][2], (4,))
    )


def test_load_into_abstract_like(tmp_path):
    tree = {"w": jnp.ones((2, 3), jnp.bfloat16), "key": jax.random.key(0), "step": jnp.int32(5)}
    save(tmp_path / "c.jaxnn", tree)
    loaded, _ = load(tmp_path / "c.jaxnn", like=jax.eval_shape(lambda: tree))
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(loaded))
    assert [_bits(x) for x in jax.tree_util.tree_leaves(loaded)] == [_bits(x) for x in jax.tree_util.tree_leaves(tree)]


def test_empty_tree_and_metadata_round_trip(tmp_path):
    metadata = {"epoch": 4, "hparams": {"lr": 1e-3, "betas": [0.9, 0.999]}, "history": [{"loss": 1.5}], "name": "ü"}
    save(tmp_path / "c.jaxnn", {"a": None}, metadata)
    assert load(tmp_path / "c.jaxnn", like={"a": None}) == ({"a": None}, metadata)


@given(
    dtype=st.sampled_from([np.float32, np.float16, ml_dtypes.bfloat16, np.int8, np.uint32, np.int64, np.complex64]),
    shape=st.lists(st.integers(0, 4), max_size=3).map(tuple),
    data=st.data(),
)
@settings(max_examples=40, deadline=None)
def test_random_bit_patterns_round_trip(dtype, shape, data):
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = data.draw(st.binary(min_size=n, max_size=n))
    array = np.frombuffer(raw, np.uint8).view(dtype).reshape(shape)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "c.jaxnn")
        save(path, {"x": array})
        loaded, _ = load(path, like={"x": np.zeros(shape, dtype)})
    assert loaded["x"].dtype == array.dtype and loaded["x"].shape == shape
    assert loaded["x"].tobytes() == raw


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "c.jaxnn"
    save(path, make_tree(), {"epoch": 3})
    return path


def _header_len(data):
    return struct.unpack_from("<Q", data, 11)[0]


@pytest.mark.parametrize("where", ["empty", "magic", "lengths", "digest", "header", "payload_start", "last_byte"])
def test_truncated_file_raises(saved, where):
    data = _file_bytes(saved)
    payload_start = PREFIX_LEN + _header_len(data)
    cut = {
        "empty": 0,
        "magic": 5,
        "lengths": 15,
        "digest": 40,
        "header": PREFIX_LEN + 10,
        "payload_start": payload_start + 1,
        "last_byte": len(data) - 1,
    }[where]
    _write_bytes(saved, data[:cut])
    with pytest.raises(CheckpointError, match="truncated") as info:
        load(saved, like=make_tree())
    assert str(saved) in str(info.value)


def test_trailing_bytes_raise(saved):
    _write_bytes(saved, _file_bytes(saved) + b"\0")
    with pytest.raises(CheckpointError, match="expected .* bytes"):
        load(saved, like=make_tree())


def test_flipped_payload_byte_fails_checksum(saved):
    data = bytearray(_file_bytes(saved))
    data[-3] ^= 0x01
    _write_bytes(saved, bytes(data))
    with pytest.raises(CheckpointError, match="checksum") as info:
        load(saved, like=make_tree())
    assert str(saved) in str(info.value)


def test_corrupted_metadata_fails_checksum(saved):
    data = _file_bytes(saved)
    assert data.count(b'"epoch": 3') == 1
    _write_bytes(saved, data.replace(b'"epoch": 3', b'"epoch": 4'))  # Still valid JSON.
    with pytest.raises(CheckpointError, match="checksum"):
        load(saved, like=make_tree())


def test_wrong_magic(saved):
    _write_bytes(saved, b"PK\x03\x04" + _file_bytes(saved)[4:])
    with pytest.raises(CheckpointError, match="not a jaxnn checkpoint"):
        load(saved, like=make_tree())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jaxnn"):
        load(tmp_path / "nope.jaxnn", like={})


def _with(tree, **changes):
    return {**tree, **changes}


@pytest.mark.parametrize(
    "change, leaf_path, found",
    [
        (lambda t: _with(t, extra=jnp.zeros(2)), "['extra']", "missing from the file"),
        (lambda t: {k: v for k, v in t.items() if k != "lr"}, "['lr']", "missing from `like`"),
        (lambda t: _with(t, opt=t["opt"]._replace(nu={"w": jnp.zeros((3, 4))})), "['opt'].nu['w']", "missing"),
        (lambda t: _with(t, params={**t["params"], "w": jnp.zeros((4, 3))}), "['params']['w']", "float32[3, 4]"),
        (lambda t: _with(t, params={**t["params"], "b": jnp.zeros(6)}), "['params']['b']", "bfloat16[6]"),
        (lambda t: _with(t, epoch=3.0), "['epoch']", "int64[]"),
        (lambda t: _with(t, raw_key=jax.random.key(0)), "['raw_key']", "uint32[2]"),
        (lambda t: _with(t, typed_keys=jax.random.split(jax.random.key(0, impl="rbg"), 3)), "['typed_keys']", "fry"),
    ],
    ids=["extra_leaf", "missing_leaf", "none_vs_array", "shape", "dtype", "python_type", "raw_vs_typed", "key_impl"],
)
def test_mismatching_like_names_the_leaf(saved, change, leaf_path, found):
    with pytest.raises(CheckpointError) as info:
        load(saved, like=change(make_tree()))
    message = str(info.value)
    assert str(saved) in message and leaf_path in message and found in message


def test_namedtuple_type_mismatch(saved):
    tree = make_tree()
    like = _with(tree, opt=SgdState(*tree["opt"]))
    with pytest.raises(CheckpointError, match="SgdState.*AdamState"):
        load(saved, like=like)


def test_list_vs_tuple_mismatch(tmp_path):
    save(tmp_path / "c.jaxnn", {"a": [jnp.zeros(1), jnp.ones(1)]})
    with pytest.raises(CheckpointError, match="tree structure"):
        load(tmp_path / "c.jaxnn", like={"a": (jnp.zeros(1), jnp.ones(1))})


def test_save_rejects_bad_metadata_and_leaves(tmp_path):
    with pytest.raises(TypeError, match="JSON-serializable"):
        save(tmp_path / "c.jaxnn", {}, {"loss": np.float32(1.0)})
    with pytest.raises(TypeError, match="must be a dict"):
        save(tmp_path / "c.jaxnn", {}, [1, 2])
    with pytest.raises(TypeError, match=r"leaf \['name'\]"):
        save(tmp_path / "c.jaxnn", {"name": object()})
    assert os.listdir(tmp_path) == []


class _FailingFile:
    """Writes the first chunk it is given, then fails as if the disk were full."""

    def __init__(self, f):
        self._f, self._writes = f, 0

    def write(self, data):
        self._writes += 1
        if self._writes > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.mark.parametrize("failure", ["write", "fsync", "replace"])
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, failure):
    path = tmp_path / "c.jaxnn"
    save(path, make_tree(seed=0), {"version": 1})
    before = _file_bytes(path)

    def fail(*args, **kwargs):
        raise OSError(errno.EIO, "simulated I/O error")

    if failure == "write":
        monkeypatch.setattr(checkpoint, "open", lambda *a: _FailingFile(open(*a)), raising=False)
    else:
        monkeypatch.setattr(os, failure, fail)
    with pytest.raises(OSError):
        save(path, make_tree(seed=1), {"version": 2})
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["c.jaxnn"]  # No temporary file left behind.
    assert _file_bytes(path) == before
    assert load(path, like=make_tree())[1] == {"version": 1}


def test_save_overwrites_atomically_without_leftovers(tmp_path):
    path = tmp_path / "c.jaxnn"
    save(path, make_tree(seed=0), {"version": 1})
    save(path, make_tree(seed=1), {"version": 2})
    assert os.listdir(tmp_path) == ["c.jaxnn"]
    loaded, metadata = load(path, like=make_tree())
    assert metadata == {"version": 2}
    assert _bits(loaded["params"]["w"]) == _bits(make_tree(seed=1)["params"]["w"])


def test_save_step_rotation_and_latest(tmp_path):
    folder = tmp_path / "run"
    assert latest(folder) is None  # Missing folder: nothing to resume from.
    for step in [1, 2, 3, 10, 200]:
        path = save_step(folder, step, {"step": jnp.int32(step)}, {"step": step}, keep=3)
        assert path == os.path.join(folder, f"ckpt_{step:09d}.jaxnn")
    assert sorted(os.listdir(folder)) == ["ckpt_000000003.jaxnn", "ckpt_000000010.jaxnn", "ckpt_000000200.jaxnn"]
    assert latest(folder) == os.path.join(folder, "ckpt_000000200.jaxnn")
    tree, metadata = load(latest(folder), like={"step": jnp.int32(0)})
    assert int(tree["step"]) == 200 and metadata == {"step": 200}


def test_latest_orders_by_step_number_and_ignores_other_names(tmp_path):
    save(tmp_path / "ckpt_99.jaxnn", {})
    save(tmp_path / "ckpt_100.jaxnn", {})
    for name in [".ckpt_000000500.jaxnn.0123abcd.tmp", "ckpt_000000600.jaxnn.tmp", "ckpt_x.jaxnn", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    assert latest(tmp_path) == os.path.join(tmp_path, "ckpt_100.jaxnn")
    assert latest(tmp_path / "empty") is None


def test_save_step_keeps_the_file_just_written_when_resuming_earlier(tmp_path):
    for step in [10, 20, 30]:
        save_step(tmp_path, step, {}, keep=2)
    save_step(tmp_path, 15, {}, keep=2)
    assert sorted(os.listdir(tmp_path)) == ["ckpt_000000015.jaxnn", "ckpt_000000030.jaxnn"]


def test_save_step_keep_none_and_validation(tmp_path):
    for step in range(5):
        save_step(tmp_path, np.int64(step), {}, keep=None)
    assert len(os.listdir(tmp_path)) == 5
    with pytest.raises(ValueError, match="keep must be at least 1"):
        save_step(tmp_path, 6, {}, keep=0)
    with pytest.raises(ValueError, match="non-negative"):
        save_step(tmp_path, -1, {})


# Issue 12 causes 3, 8 and 11, and issue 11's symlink: rotation after divergence, a full disk, two writers.


def _state(value):
    return {"w": jnp.full((2,), value, jnp.float32), "step": jnp.int32(0)}


def _names(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("ckpt_"))


def test_rotation_never_deletes_the_newest_finite_checkpoint(tmp_path):
    for step in (1, 2):
        save_step(tmp_path, step, _state(1.0 * step), keep=3)
    for step in (3, 4, 5, 6):  # the run diverged: every later state is NaN
        with pytest.warns(RuntimeWarning, match=rf"ckpt_00000000{step}\.jaxnn' holds NaN or Inf; the newest finite "
                                                r"checkpoint is '.*ckpt_000000002\.jaxnn'"):
            save_step(tmp_path, step, _state(np.nan), keep=3)
    assert _names(tmp_path) == [f"ckpt_00000000{s}.jaxnn" for s in (2, 4, 5, 6)]
    assert latest(tmp_path) == os.path.join(tmp_path, "ckpt_000000006.jaxnn")
    good = latest(tmp_path, finite=True)
    assert good == os.path.join(tmp_path, "ckpt_000000002.jaxnn")
    np.testing.assert_array_equal(load(good, like=_state(0.0))[0]["w"], [2.0, 2.0])
    save_step(tmp_path, 7, _state(7.0), keep=3)  # a finite state again: the spared one may go
    assert _names(tmp_path) == [f"ckpt_00000000{s}.jaxnn" for s in (5, 6, 7)]
    assert latest(tmp_path, finite=True) == latest(tmp_path)


def test_latest_finite_with_only_nonfinite_checkpoints_and_inf(tmp_path):
    with pytest.warns(RuntimeWarning, match="newest finite checkpoint is None"):
        save_step(tmp_path, 1, {"w": jnp.array([1.0, jnp.inf], jnp.bfloat16)}, keep=1)
    assert latest(tmp_path, finite=True) is None and latest(tmp_path) is not None
    with pytest.warns(RuntimeWarning):
        save_step(tmp_path, 2, _state(np.nan), keep=1)
    assert _names(tmp_path) == ["ckpt_000000002.jaxnn"]  # no finite one to spare: keep=1 holds


class _SmallDisk:
    """``open`` for checkpoint.py on a disk with room for ``capacity`` checkpoint files (temporary ones count)."""

    def __init__(self, folder, capacity):
        self.folder, self.capacity = folder, capacity

    def __call__(self, name, mode="r", *args):
        if "x" in mode and len(os.listdir(self.folder)) >= self.capacity:
            raise OSError(errno.ENOSPC, "No space left on device")
        return open(name, mode, *args)


def test_a_full_disk_names_the_path_and_the_space_needed(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "open", _SmallDisk(tmp_path, 0), raising=False)
    with pytest.raises(OSError, match=r"no space left to write checkpoint '.*c\.jaxnn': it needs \d+ bytes and "
                                      r"\d+ bytes are free") as caught:
        save(tmp_path / "c.jaxnn", _state(1.0))
    assert caught.value.errno == errno.ENOSPC and os.listdir(tmp_path) == []


def test_rotation_needs_room_for_one_checkpoint(tmp_path, monkeypatch):
    for step in (1, 2):
        save_step(tmp_path, step, _state(1.0), keep=2)
    monkeypatch.setattr(checkpoint, "open", _SmallDisk(tmp_path, 2), raising=False)  # full with keep=2 files
    for step in (3, 4, 5):
        save_step(tmp_path, step, _state(float(step)), keep=2)
    assert _names(tmp_path) == ["ckpt_000000004.jaxnn", "ckpt_000000005.jaxnn"]


def test_rotation_skips_checkpoints_that_vanish(tmp_path, monkeypatch):
    save_step(tmp_path, 1, _state(1.0), keep=1)
    listdir = os.listdir
    # As if another process deleted ckpt 0 between the listing and the removal.
    monkeypatch.setattr(os, "listdir", lambda d: [*listdir(d), "ckpt_000000000.jaxnn"])
    save_step(tmp_path, 2, _state(2.0), keep=1)
    monkeypatch.undo()
    assert _names(tmp_path) == ["ckpt_000000002.jaxnn"]


def test_save_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "target.jaxnn"
    save(target, _state(1.0))
    (tmp_path / "link.jaxnn").symlink_to(target)
    save(tmp_path / "link.jaxnn", _state(2.0))
    assert (tmp_path / "link.jaxnn").is_symlink()
    np.testing.assert_array_equal(load(target, like=_state(0.0))[0]["w"], [2.0, 2.0])


def test_lock_refuses_a_second_writer_and_is_released(tmp_path):
    with checkpoint.lock(tmp_path) as path:
        assert path == os.path.join(tmp_path, ".lock")
        with pytest.raises(checkpoint.CheckpointLockedError,
                           match=rf"in use by another writer \(pid {os.getpid()} on host .+, since "):
            with checkpoint.lock(tmp_path):
                pass
        save_step(tmp_path, 1, _state(1.0), keep=1)
    with checkpoint.lock(tmp_path):  # released on exit
        pass
    assert latest(tmp_path) is not None  # the lock file is no checkpoint


HOLDER = """
import sys, time
from jaxnn import checkpoint
with checkpoint.lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_lock_between_two_processes_and_takeover_after_a_crash(tmp_path):
    import signal
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(checkpoint.__file__))
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": root, "JAX_PLATFORMS": "cpu"})
    try:
        assert child.stdout.readline() == "locked\n"
        with pytest.raises(checkpoint.CheckpointLockedError, match=rf"pid {child.pid} on host"):
            with checkpoint.lock(tmp_path):
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    with checkpoint.lock(tmp_path):  # the dead writer's lock is taken over
        assert f'"pid": {os.getpid()}' in (tmp_path / ".lock").read_text()
