"""The containers every loader returns, and the helpers that reshape them: a validation split and one-hot labels."""

from __future__ import annotations

from typing import Any, NamedTuple

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
        check_labels(s.y, f"one_hot(classes={classes})", classes)
        return Split(s.x, np.eye(classes, dtype=np.float32)[s.y])

    return Dataset(train=encode(data.train), test=encode(data.test), val=encode(data.val))


def check_split(x: Any, y: Any, name: str, classes: int | None = None) -> None:
    """Checks the values of one split on the host: finite inputs and targets, integer labels in range.

    Bad data must not train: a NaN input shows up later as a diverged run (and a search then advises smaller
    learning rates), and a negative label would index a real class.

    Args:
        x: the inputs (any shape, examples on axis 0).
        y: the targets: integer class labels, or floats (one-hot rows, regression targets).
        name: what the data is called in the message (``"data"``, ``"data.train"``).
        classes: the number of classes K, when known: integer labels must then lie in ``[0, K)``; otherwise
            they must be ``>= 0``.

    Raises:
        ValueError: naming the array, the index of its first bad entry and its value.

    Example::

        data.check_split(np.ones((2, 3)), np.array([0, 2]), "data", classes=3)   # fine: returns None
        # with y = [0, 3]: ValueError: data: y[1] = 3 is not a class label ...
    """
    check_finite(x, f"{name}: x")
    check_finite(y, f"{name}: y")
    check_labels(y, name, classes)


def check_finite(array: Any, name: str) -> None:
    """Raises ``ValueError`` naming the first NaN or infinite entry of a floating ``array`` and its index.

    Example::

        data.check_finite(np.array([1.0, 2.0]), "x")   # fine; [1.0, nan]: ValueError: x[1] = nan is not finite ...
    """
    array = np.atleast_1d(array)
    if array.dtype.kind in "biu":  # bools and integers are always finite; bfloat16 is not np.inexact
        return
    bad = ~np.isfinite(array)
    if bad.any():
        index = _first(bad)
        raise ValueError(
            f"{name}{list(index)} = {array[index]} is not finite: inputs and targets must be finite numbers "
            f"(training on it would look like divergence). Clean or drop example {index[0]}."
        )


def check_labels(y: Any, name: str, classes: int | None = None) -> None:
    """Raises ``ValueError`` naming the first integer label outside ``[0, classes)`` (``< 0`` when classes is None).

    Float targets (one-hot rows, regression) are not labels and pass.

    Example::

        data.check_labels(np.array([0, 1]), "data")   # fine; [0, -1]: ValueError: data: y[1] = -1 is not a class label
    """
    y = np.atleast_1d(y)
    if not np.issubdtype(y.dtype, np.integer):
        return
    bad = (y < 0) | (y >= classes) if classes is not None else y < 0
    if bad.any():
        index = _first(bad)
        allowed = f"in [0, {classes})" if classes is not None else ">= 0"
        raise ValueError(
            f"{name}: y{list(index)} = {y[index]} is not a class label: integer labels must be {allowed}. "
            f"Fix or drop example {index[0]}; for regression pass float targets."
        )


def _first(bad: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(bad), bad.shape))
