"""Checkpoints: save and load pytrees atomically, with a checksum and without pickle.

``save(path, tree, metadata)`` writes any pytree of arrays (parameters, BatchNorm state, optimizer state
NamedTuples, step counters, raw and typed PRNG keys, ``None`` leaves) and ``load(path, like)`` reads it
back into the structure of ``like``, bitwise-identical, after checking that the file is complete, that
its checksum matches and that its tree structure, leaf shapes and dtypes match ``like``.

File format, version 1 (all integers little-endian)::

    offset  0  b"JAXNNCKPT1\\n"                           magic line, 11 bytes
    offset 11  uint64 header_len, uint64 payload_len      16 bytes
    offset 27  SHA-256 digest of header + payload         32 bytes
    offset 59  header: header_len bytes of UTF-8 JSON
               payload: payload_len bytes, the raw little-endian bytes of the leaves, back to back

The header is ``{"treedef": str(treedef), "leaves": [...], "metadata": {...}, "finite": bool}`` with one entry
per leaf in ``jax.tree_util.tree_flatten`` order::

    {"path": "['opt'].mu['w']", "shape": [3, 4], "dtype": "bfloat16", "offset": 0, "nbytes": 24}

``path`` is ``jax.tree_util.keystr`` of the leaf's key path and ``offset`` counts from the start of the
payload. Raw keys from ``jax.random.PRNGKey`` are plain ``uint32`` arrays. Typed keys from
``jax.random.key`` have a dtype such as ``"key<fry>"``, the shape of the key array, an extra
``"key_impl"`` (e.g. ``"threefry2x32"``), and their bytes are those of ``jax.random.key_data``.

The digest covers the header as well as the payload, so a corrupted metadata value is caught too. ``finite`` is
False when a floating-point leaf holds NaN or Inf (a diverged run); files written before it existed lack it and
count as finite.

A folder of step checkpoints (``save_step``) keeps its newest finite checkpoint through any rotation, and
:func:`lock` makes one writer its owner.
"""

import contextlib
import errno
import hashlib
import json
import operator
import os
import re
import secrets
import shutil
import socket
import struct
import time
import warnings
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["CheckpointError", "CheckpointLockedError", "latest", "load", "lock", "save", "save_step"]

MAGIC = b"JAXNNCKPT1\n"
_LENGTHS = struct.Struct("<QQ")
_PREFIX_LEN = len(MAGIC) + _LENGTHS.size + hashlib.sha256().digest_size
_STEP_FILE = re.compile(r"ckpt_(\d+)\.jaxnn")
_MAX_LISTED = 5
LOCK_FILE = ".lock"
_FULL = (errno.ENOSPC, errno.EDQUOT)


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted, not a checkpoint, or does not match ``like``."""


class CheckpointLockedError(RuntimeError):
    """Another live process holds the lock of a checkpoint folder (see :func:`lock`)."""


def save(path: str | os.PathLike, tree: Any, metadata: dict | None = None) -> None:
    """Writes ``tree`` and ``metadata`` to ``path`` atomically.

    The file is written to a temporary file in the same folder, flushed to disk and then renamed over
    ``path``, so ``path`` holds either the previous checkpoint or the new one, never a partial file. When
    ``path`` is a symbolic link, the file it points to is written and the link is kept.

    Args:
      path: the checkpoint file; its folder must exist.
      tree: a pytree whose leaves are JAX or NumPy arrays (typed PRNG keys included) or Python scalars.
      metadata: a JSON-serializable dict (epoch, hyperparameters, history, ...) returned by ``load``.
        As with any JSON, tuples come back as lists and dict keys as strings.

    Raises:
      TypeError: ``metadata`` is not a JSON-serializable dict, or a leaf is not an array or scalar.
      OSError: the write failed; for a full disk (``errno.ENOSPC``) the message names the path, the bytes
        the checkpoint needs and the bytes free. ``path`` then still holds its previous contents.

    Example::

        checkpoint.save("model.jaxnn", {"w": jnp.ones((3, 4))}, {"epoch": 5})
    """
    # realpath: a symlink's target is replaced, not the link (os.replace would swap the link for a file).
    path = os.path.realpath(os.fspath(path))
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise TypeError(f"save: metadata must be a dict or None, got {type(metadata).__name__}: {metadata!r}")
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    entries, chunks, offset, finite = [], [], 0, True
    for key_path, leaf in leaves:
        shape, dtype = _shape_dtype(leaf)
        entry = {"path": jax.tree_util.keystr(key_path), "shape": list(shape), "dtype": _dtype_name(dtype)}
        if _is_key(dtype):
            entry["key_impl"] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        array = np.asarray(leaf)
        if array.dtype.kind == "O":
            raise TypeError(
                f"save: leaf {entry['path']} is {type(leaf).__name__} {leaf!r}, which is not a numeric array; "
                "leaves must be JAX or NumPy arrays or Python scalars (move other values into metadata)"
            )
        if jnp.issubdtype(array.dtype, jnp.inexact):
            finite = finite and bool(np.isfinite(array).all())
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        entries.append({**entry, "offset": offset, "nbytes": array.nbytes})
        # A flat uint8 view exposes the bytes of any dtype (bfloat16 included) without a copy.
        chunks.append(array.reshape(-1).view(np.uint8))
        offset += array.nbytes
    try:
        header = json.dumps(
            {"treedef": str(treedef), "leaves": entries, "metadata": metadata, "finite": finite}).encode()
    except TypeError as e:
        raise TypeError(
            f"save: metadata must be JSON-serializable ({e}); convert arrays and NumPy/JAX scalars to "
            "Python lists and numbers first, e.g. float(loss)"
        ) from None
    digest = hashlib.sha256(header)
    for chunk in chunks:
        digest.update(chunk)

    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(MAGIC + _LENGTHS.pack(len(header), offset) + digest.digest() + header)
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):  # open itself may have failed
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno in _FULL:
            raise _disk_full(path, _PREFIX_LEN + len(header) + offset) from e
        raise
    if os.name == "posix":  # Makes the rename itself durable; Windows cannot open a folder to fsync it.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _disk_full(path: str, needed: int) -> OSError:
    free = shutil.disk_usage(os.path.dirname(path)).free
    return OSError(errno.ENOSPC, f"no space left to write checkpoint {path!r}: it needs {needed} bytes and "
                                 f"{free} bytes are free on that file system. Free some space or save elsewhere; "
                                 f"save_step deletes old checkpoints beyond `keep` before it writes, so it needs "
                                 f"room for one checkpoint")


def load(path: str | os.PathLike, like: Any) -> tuple[Any, dict]:
    """Reads a checkpoint written by ``save`` into the structure of ``like``.

    Everything is validated before any leaf is built, so ``load`` either returns the whole tree or raises.

    Args:
      path: the checkpoint file.
      like: a pytree with the structure, leaf shapes and dtypes of the saved tree, e.g. freshly
        initialised state or its ``jax.eval_shape``. Its values are not used.

    Returns:
      ``(tree, metadata)``. Each leaf has the dtype of its ``like`` leaf and the exact saved bits. It is a
      NumPy array or scalar, or a Python scalar of the same type, where the ``like`` leaf is one, and
      otherwise a JAX array on the default device.

    Raises:
      FileNotFoundError: ``path`` does not exist.
      CheckpointError: the file is truncated, corrupted or not a checkpoint, or its tree structure, leaf
        paths, shapes or dtypes differ from ``like``.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    header, payload = _read(path, data)
    like_leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    _check_structure(path, header, like_leaves, treedef)
    leaves = [_restore(payload, entry, leaf) for entry, (_, leaf) in zip(header["leaves"], like_leaves)]
    return jax.tree_util.tree_unflatten(treedef, leaves), header["metadata"]


def latest(directory: str | os.PathLike, finite: bool = False) -> str | None:
    """Returns the path of the checkpoint with the highest step in ``directory``, or None if there is none.

    Checkpoints are found by file name (``ckpt_<digits>.jaxnn``; temporary files are ignored), so a missing
    folder gives None too. ``load`` validates the file.

    Args:
      directory: the checkpoint folder.
      finite: only consider checkpoints whose floating-point leaves were all finite when saved (read from
        each file's header, newest first): the state to resume from after a run diverged.

    Returns:
      The path, or None when no (finite) checkpoint exists.

    Raises:
      CheckpointError: with ``finite``, a newer checkpoint's header is unreadable (never skipped silently).

    Example::

        path = checkpoint.latest("runs/a", finite=True)   # e.g. "runs/a/ckpt_000000040.jaxnn"
    """
    for _, path in reversed(_checkpoints(directory)):
        with contextlib.suppress(FileNotFoundError):  # deleted since the listing: look further back
            if not finite or _finite(path):
                return path
    return None


def save_step(
    directory: str | os.PathLike, step: int, tree: Any, metadata: dict | None = None, keep: int | None = 3
) -> str:
    """Saves ``tree`` as ``directory/ckpt_{step:09d}.jaxnn`` and deletes older checkpoints beyond ``keep``.

    Checkpoints are ordered by the step in their names. The file just written is always kept, so after
    resuming from an earlier step the newest ``keep - 1`` later-numbered checkpoints survive alongside it
    (and ``latest`` returns the highest of them): delete those first if the run restarts from scratch.

    Rotation never loses the last good state: the newest checkpoint whose floating-point leaves are all finite
    survives even beyond ``keep`` until a newer finite one is written, and saving a non-finite tree warns and
    names it. The checkpoints beyond ``keep`` are deleted before the new one is written, so a save needs disk
    room for one checkpoint. Files that vanish meanwhile (deleted by hand) are skipped.

    Args:
      directory: the checkpoint folder; created if missing.
      step: the training step, a non-negative integer.
      tree, metadata: as for ``save``.
      keep: how many checkpoints to keep, at least 1; None keeps all.

    Returns:
      The path written.

    Raises:
      ValueError: ``step`` is negative or ``keep`` is below 1.
      OSError: as for ``save``.

    Warns:
      RuntimeWarning: ``tree`` holds NaN or Inf; the message names the newest finite checkpoint.

    Example::

        path = checkpoint.save_step("runs/a", 100, {"w": jnp.ones(3)}, {"epoch": 1}, keep=3)
    """
    step = operator.index(step)
    if step < 0:
        raise ValueError(f"save_step: step must be a non-negative integer, got {step}")
    if keep is not None and keep < 1:
        raise ValueError(f"save_step: keep must be at least 1 or None (keep all), got {keep}")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(os.fspath(directory), f"ckpt_{step:09d}.jaxnn")
    if keep is not None:  # Before the write, as if the new one were not finite: the write may fail.
        _rotate(directory, path, keep, new_is_finite=False)
    save(path, tree, metadata)
    finite = _finite(path)
    if keep is not None:
        _rotate(directory, path, keep, new_is_finite=finite)
    if not finite:
        warnings.warn(f"save_step: the state saved as {path!r} holds NaN or Inf; the newest finite checkpoint "
                      f"is {latest(directory, finite=True)!r} (checkpoint.latest(directory, finite=True))",
                      RuntimeWarning, stacklevel=2)
    return path


def _rotate(directory: str | os.PathLike, path: str, keep: int, new_is_finite: bool) -> None:
    """Deletes the checkpoints other than ``path`` beyond the newest ``keep - 1``, sparing the newest finite one
    unless ``path`` itself is finite."""
    others = [p for _, p in _checkpoints(directory) if p != path]
    stale = others[: max(len(others) - (keep - 1), 0)]
    if not new_is_finite:
        spared = next((p for p in reversed(others) if _finite_or_false(p)), None)
        stale = [p for p in stale if p != spared]
    for p in stale:
        with contextlib.suppress(FileNotFoundError):  # another process or a person removed it first
            os.remove(p)


def _finite(path: str) -> bool:
    """The ``finite`` flag of a checkpoint's header (read alone, not the payload); True for files without it."""
    with open(path, "rb") as f:
        prefix = f.read(_PREFIX_LEN)
        if len(prefix) < _PREFIX_LEN or not prefix.startswith(MAGIC):
            raise _error(path, "has no complete checkpoint header; load an earlier checkpoint")
        header_len, _ = _LENGTHS.unpack_from(prefix, len(MAGIC))
        try:
            return bool(json.loads(f.read(header_len)).get("finite", True))
        except ValueError:
            raise _error(path, "has a corrupted header; load an earlier checkpoint") from None


def _finite_or_false(path: str) -> bool:
    # A file that vanished or is damaged is no good state to spare.
    try:
        return _finite(path)
    except (OSError, CheckpointError):
        return False


@contextlib.contextmanager
def lock(directory: str | os.PathLike) -> Iterator[str]:
    """Makes this process the only writer of checkpoint folder ``directory`` while the ``with`` block runs.

    The lock is an advisory ``flock`` on ``directory/.lock``, which records the owner (pid, host, time) for the
    message a second writer gets. The operating system releases it when its process dies, so the lock of a
    crashed run is taken over at once, never left stale. The file itself stays (deleting it would let two
    writers lock two different files). POSIX only (``fcntl``); it works across hosts where the file system
    supports ``flock`` (local disks; NFS on Linux).

    Args:
      directory: the checkpoint folder; created if missing.

    Yields:
      The path of the lock file.

    Raises:
      CheckpointLockedError: another process (or another ``lock`` in this one) holds the folder; the message
        names its pid, host and start time.

    Example::

        with checkpoint.lock("runs/a"):
            checkpoint.save_step("runs/a", 1, {"w": jnp.ones(3)})
    """
    import fcntl  # POSIX only, and only needed here: the rest of this module also runs on Windows.

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(os.fspath(directory), LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointLockedError(
                f"checkpoint folder {os.fspath(directory)!r} is in use by another writer ({_owner(fd)}; lock file "
                f"{path!r}). Two runs writing one folder would interleave and delete each other's checkpoints: "
                "give this run another checkpoint_dir, or wait until that run ends") from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock


def _owner(fd: int) -> str:
    try:
        owner = json.loads(os.pread(fd, 4096, 0))
        return f"pid {owner['pid']} on host {owner['host']}, since {owner['time']}"
    except (ValueError, KeyError, TypeError):  # the owner is between truncating and writing the file
        return "owner unknown"


def _checkpoints(directory: str | os.PathLike) -> list[tuple[int, str]]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    matches = ((_STEP_FILE.fullmatch(name), name) for name in names)
    return sorted((int(m[1]), os.path.join(os.fspath(directory), name)) for m, name in matches if m)


def _read(path: str, data: bytes) -> tuple[dict, memoryview]:
    """Checks the magic, length and digest of a checkpoint's bytes and splits them into header and payload."""
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise _error(path, f"is truncated: {len(data)} bytes, shorter than the {len(MAGIC)}-byte magic line")
        raise _error(
            path,
            f"is not a jaxnn checkpoint: expected it to start with {MAGIC!r}, found {data[: len(MAGIC)]!r}",
        )
    if len(data) < _PREFIX_LEN:
        raise _error(path, f"is truncated: {len(data)} bytes, shorter than the {_PREFIX_LEN}-byte prefix")
    header_len, payload_len = _LENGTHS.unpack_from(data, len(MAGIC))
    if len(data) != _PREFIX_LEN + header_len + payload_len:
        raise _error(
            path,
            f"is truncated or corrupted: expected {_PREFIX_LEN + header_len + payload_len} bytes "
            f"({_PREFIX_LEN}-byte prefix, {header_len}-byte header, {payload_len}-byte payload), "
            f"found {len(data)}; load an earlier checkpoint",
        )
    body = memoryview(data)[_PREFIX_LEN:]
    stored, computed = data[_PREFIX_LEN - 32 : _PREFIX_LEN].hex(), hashlib.sha256(body).hexdigest()
    if stored != computed:
        raise _error(
            path,
            f"is corrupted: checksum mismatch, the file stores SHA-256 {stored} but its contents hash to "
            f"{computed}; load an earlier checkpoint",
        )
    return json.loads(bytes(body[:header_len])), body[header_len:]


def _check_structure(path: str, header: dict, like_leaves: list, treedef: Any) -> None:
    found = [entry["path"] for entry in header["leaves"]]
    expected = [jax.tree_util.keystr(key_path) for key_path, _ in like_leaves]
    found_set, expected_set = set(found), set(expected)
    missing = [p for p in expected if p not in found_set]
    unexpected = [p for p in found if p not in expected_set]
    if missing or unexpected:
        raise _error(
            path,
            f"does not match the structure of `like`: leaves of `like` missing from the file: "
            f"{_listed(missing)}; leaves in the file missing from `like`: {_listed(unexpected)}. "
            "Pass a `like` built the same way as the saved tree",
        )
    if header["treedef"] != str(treedef):
        # Same leaf paths but different node types, e.g. AdamState vs SgdState: show where they differ.
        i = len(os.path.commonprefix([header["treedef"], str(treedef)]))
        lo, hi = max(i - 40, 0), i + 40
        raise _error(
            path,
            f"does not match the tree structure of `like`: expected ...{str(treedef)[lo:hi]}... "
            f"(from `like`), found ...{header['treedef'][lo:hi]}... in the file. Pass a `like` with the "
            "same container and NamedTuple types as the saved tree",
        )
    mismatches = []
    for entry, (_, leaf) in zip(header["leaves"], like_leaves):
        shape, dtype = _shape_dtype(leaf)
        if entry["shape"] != list(shape) or entry["dtype"] != _dtype_name(dtype):
            mismatches.append(
                f"{entry['path']}: expected {_dtype_name(dtype)}{list(shape)}, found {entry['dtype']}{entry['shape']}"
            )
    if mismatches:
        raise _error(
            path,
            f"has leaves whose shape or dtype differ from `like`: {_listed(mismatches)}. Build `like` with "
            "the model and optimizer settings the checkpoint was saved with",
        )


def _restore(payload: memoryview, entry: dict, like_leaf: Any) -> Any:
    """Builds one leaf from its bytes, in the kind of container ``like_leaf`` is (see ``load``)."""
    is_key = "key_impl" in entry
    shape, dtype = _shape_dtype(jax.eval_shape(jax.random.key_data, like_leaf) if is_key else like_leaf)
    raw = payload[entry["offset"] : entry["offset"] + entry["nbytes"]]
    # astype copies into native byte order, so the result owns writable memory, not the file buffer.
    array = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).reshape(shape).astype(dtype)
    if is_key:
        return jax.random.wrap_key_data(array, impl=entry["key_impl"])
    if isinstance(like_leaf, np.generic):  # Checked first: np.float64 is also a Python float.
        return array[()]
    if isinstance(like_leaf, np.ndarray):
        return array
    if isinstance(like_leaf, bool | int | float | complex):
        return type(like_leaf)(array.item())
    return jnp.asarray(array)


def _shape_dtype(leaf: Any) -> tuple[tuple[int, ...], Any]:
    if not hasattr(leaf, "dtype"):  # Python scalars.
        leaf = np.asarray(leaf)
    return tuple(leaf.shape), leaf.dtype


def _is_key(dtype: Any) -> bool:
    return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _dtype_name(dtype: Any) -> str:
    # np.dtype(...).name is independent of byte order ("float32" for both "<f4" and ">f4").
    return str(dtype) if _is_key(dtype) else np.dtype(dtype).name


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return ("; ".join(items[:_MAX_LISTED]) or "none") + more


def _error(path: str, message: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {path!r} {message}")
