"""The containers every loader returns, and the helpers that reshape them: a validation split and one-hot labels."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxnn.validation import check_seed


class Split(NamedTuple):
    """One split of a data set: inputs ``x`` (float32) and targets ``y`` (int32 labels or float32)."""

    x: np.ndarray
    y: np.ndarray


class Dataset(NamedTuple):
    """A data set as NumPy arrays: ``train`` and ``test`` splits, and ``val`` once :func:`split` made one."""

    train: Split
    test: Split
    val: Split | None = None


def split(data: Dataset, val_fraction: float, key: jax.Array | int) -> Dataset:
    """Moves a random ``val_fraction`` of the training examples into a new ``val`` split.

    Both parts keep the original order of the examples they hold, so the result depends only on ``key``.

    Args:
        data: A data set without a ``val`` split.
        val_fraction: The share of ``data.train`` to move, strictly between 0 and 1.
        key: A JAX PRNG key, or an int seed for one.

    Returns:
        ``data`` with a smaller ``train`` and the moved examples as ``val``; ``test`` is unchanged.

    Raises:
        ValueError: if ``val_fraction`` is not in (0, 1), leaves either part empty, or ``data`` already has a
            ``val`` split.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"split(val_fraction={val_fraction!r}): val_fraction must lie strictly between 0 and 1.")
    if data.val is not None:
        raise ValueError(
            "split(data): data already has a val split; split the original data set instead of splitting twice."
        )
    n = len(data.train.x)
    n_val = round(val_fraction * n)
    if not 0 < n_val < n:
        raise ValueError(
            f"split(val_fraction={val_fraction!r}): moves {n_val} of {n} training examples, which leaves one "
            "part empty; choose a fraction that keeps at least one example on each side."
        )
    if isinstance(key, int | np.integer):
        key = jax.random.key(check_seed("key", key))
    order = np.asarray(jax.random.permutation(key, n))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    train = Split(data.train.x[train_idx], data.train.y[train_idx])
    val = Split(data.train.x[val_idx], data.train.y[val_idx])
    return Dataset(train=train, test=data.test, val=val)


def one_hot(data: Dataset, classes: int) -> Dataset:
    """Replaces the int labels of every split with float32 one-hot rows of length ``classes``.

    Raises:
        ValueError: if a label lies outside ``[0, classes)``.
    """

    def encode(s: Split | None) -> Split | None:
        if s is None:
            return None
        if s.y.size and (s.y.min() < 0 or s.y.max() >= classes):
            raise ValueError(
                f"one_hot(classes={classes}): labels range over [{s.y.min()}, {s.y.max()}], which does not fit "
                f"in [0, {classes}); pass the number of classes of the data set."
            )
        return Split(s.x, np.eye(classes, dtype=np.float32)[s.y])

    return Dataset(train=encode(data.train), test=encode(data.test), val=encode(data.val))
