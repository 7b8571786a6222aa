"""MNIST-1D (Greydanus & Kobak, 2024), generated locally by the ``mnist1d`` package and cached as ``.npz``.

The package's own ``make_dataset`` runs with its default arguments: 5,000 examples of length 40 from 10
templates, split 4,000 / 1,000, seed 42. Its ``get_dataset`` is avoided because by default it downloads a
pickle; generation takes about two seconds, so the arrays are cached in ``mnist1d.npz`` inside the data
folder.
"""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import numpy as np

from jaxnn.data.dataset import Dataset, Split
from jaxnn.data.storage import atomic_write, dataset_dir

CACHE_FILE = "mnist1d.npz"
CLASSES = 10
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
        ImportError: if the cache is absent and the ``mnist1d`` package is not installed.
    """
    path = dataset_dir("mnist1d", data_dir) / CACHE_FILE
    arrays = _read_cache(path)
    if arrays is None:
        arrays = _generate()
        with atomic_write(path) as f:
            np.savez(f, **arrays)
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if not flatten:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return Dataset(train=Split(x_train, arrays["y_train"]), test=Split(x_test, arrays["y_test"]))


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None if the cache is absent or unreadable (it is then regenerated)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as f:
            return {k: f[k] for k in _KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def _generate() -> dict[str, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise ImportError(
            'load("mnist1d") generates the data with the mnist1d package, which is not installed: '
            'pip install "jaxnn[data]"'
        ) from e
    # make_dataset seeds the global NumPy and `random` generators; restore them so that loading data does
    # not change the user's random streams.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x_train": raw["x"].astype(np.float32),
        "y_train": raw["y"].astype(np.int32),
        "x_test": raw["x_test"].astype(np.float32),
        "y_test": raw["y_test"].astype(np.int32),
    }
