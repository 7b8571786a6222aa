"""MNIST-1D (Greydanus & Kobak, 2024), generated locally by the ``mnist1d`` package and cached as ``.npz``.

The package's own ``make_dataset`` runs with its default arguments: 5,000 examples of length 40 from 10
templates, split 4,000 / 1,000, seed 42. Its ``get_dataset`` is avoided because by default it downloads a
pickle; generation takes about two seconds, so the arrays are cached in ``mnist1d.npz`` inside the data
folder.

The cache records the generator (package version) and its arguments, and is checked on every load: shapes
and dtypes must be those the recorded arguments give, inputs finite and labels in [0, 10). A cache that fails,
or that another version of the package or other arguments made, is regenerated.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jaxnn.data.dataset import Dataset, Split, check_split
from jaxnn.data.storage import atomic_write, dataset_dir

CACHE_FILE = "mnist1d.npz"
CLASSES = 10
CACHE_FORMAT = 2
"""Version of the cache layout: 2 added the ``meta`` entry (generator and arguments)."""
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_mnist1d(data_dir: str | os.PathLike | None = None, *, normalize: bool = True, flatten: bool = True) -> Dataset:
    """Loads MNIST-1D: 4,000 train / 1,000 test signals of 40 values, 10 classes.

    Args:
        data_dir: The cache folder; default ``$JAXNN_DATA_DIR/mnist1d`` or ``~/.cache/jaxnn/mnist1d``.
        normalize: Accepted for a uniform interface; the generator already standardises the whole set to
            zero mean and unit variance, and the values are returned as generated.
        flatten: Signals as rows of 40 values; otherwise as (40, 1) arrays (length, channels).

    Returns:
        A :class:`Dataset` with float32 ``x`` and int32 ``y``.

    Raises:
        ImportError: if there is no valid cache and the ``mnist1d`` package is not installed (the message names
            the rejected cache and why).
        ValueError: if the generator's output does not have the documented shapes, dtypes and labels.
    """
    path = dataset_dir("mnist1d", data_dir) / CACHE_FILE
    arrays, rejected = _read_cache(path)
    if arrays is None:
        arrays = _generate(path, rejected)
        with atomic_write(path) as f:
            np.savez(f, **arrays)
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if not flatten:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return Dataset(train=Split(x_train, arrays["y_train"]), test=Split(x_test, arrays["y_test"]))


def _read_cache(path: Path) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """The cached arrays and None, or None and why the cache was not used (None too when there is none)."""
    if not path.is_file():
        return None, None
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in (*_KEYS, "meta") if k in f}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        return None, f"it cannot be read ({error})"
    if "meta" not in arrays:
        return None, "it records no generator version and arguments (an older jaxnn wrote it)"
    try:
        meta = json.loads(str(arrays.pop("meta")))
        current = _meta()
        if current is not None and meta != current:
            return None, f"it was made by {meta}, not by the installed {current}"
        problem = _problem(arrays, meta["args"])
    except (ValueError, KeyError, TypeError):
        return None, "its generator record is not valid"
    return (None, problem) if problem else (arrays, None)


def _problem(arrays: dict[str, np.ndarray], args: dict[str, Any]) -> str | None:
    """What is wrong with ``arrays`` as the output of the generator run with ``args``; None if nothing."""
    total = args["num_samples"] // CLASSES * CLASSES  # make_dataset draws the same count for every class
    n_train, length = int(total * args["train_split"]), args["final_seq_length"]
    expected = {"x_train": ((n_train, length), np.float32), "y_train": ((n_train,), np.int32),
                "x_test": ((total - n_train, length), np.float32), "y_test": ((total - n_train,), np.int32)}
    for key, (shape, dtype) in expected.items():
        if key not in arrays:
            return f"it has no {key}"
        array = arrays[key]
        if array.shape != shape or array.dtype != dtype:
            return f"{key} is {array.dtype} of shape {array.shape}, expected {np.dtype(dtype)} of shape {shape}"
    try:
        for part in ("train", "test"):
            check_split(arrays[f"x_{part}"], arrays[f"y_{part}"], part, CLASSES)
    except ValueError as error:
        return str(error)
    return None


def _meta() -> dict[str, Any] | None:
    """The generator record of the installed package: its version and default arguments; None if absent."""
    try:
        from mnist1d.data import get_dataset_args
        version = importlib.metadata.version("mnist1d")
    except (ImportError, importlib.metadata.PackageNotFoundError):
        return None
    args = {k: v for k, v in get_dataset_args(as_dict=True).items() if k != "url"}
    # Through JSON, so that it compares equal to a record read back from a cache (tuples become lists).
    return json.loads(json.dumps({"format": CACHE_FORMAT, "generator": f"mnist1d {version}", "args": args}))


def _generate(path: Path, rejected: str | None) -> dict[str, np.ndarray]:
    meta = _meta()
    if meta is None:
        why = f" The cache {path} was not used: {rejected}." if rejected else ""
        raise ImportError(
            'load("mnist1d") generates the data with the mnist1d package, which is not installed: '
            f'pip install "jaxnn[data]".{why}'
        )
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset seeds the global NumPy and `random` generators; restore them so that loading data does
    # not change the user's random streams.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = {
        "x_train": raw["x"].astype(np.float32),
        "y_train": raw["y"].astype(np.int32),
        "x_test": raw["x_test"].astype(np.float32),
        "y_test": raw["y_test"].astype(np.int32),
    }
    problem = _problem(arrays, meta["args"])
    if problem:
        raise ValueError(f"load('mnist1d'): the output of {meta['generator']} is not as documented: {problem}.")
    return {**arrays, "meta": np.array(json.dumps(meta))}
