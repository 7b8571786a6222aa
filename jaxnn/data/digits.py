"""The 8×8 handwritten digits that scikit-learn ships (UCI optdigits test set, 1,797 images)."""

from __future__ import annotations

import numpy as np

from jaxnn.data.dataset import Dataset, Split

CLASSES = 10
TRAIN_SIZE = 1437  # the first 80%, unshuffled as in scikit-learn's own examples, so the split needs no seed


def load_digits(data_dir: None = None, *, normalize: bool = True, flatten: bool = True) -> Dataset:
    """Loads scikit-learn's digits: 1,437 train / 360 test 8×8 images with 17 grey levels, 10 classes.

    Args:
        data_dir: Must be None: the data ship inside scikit-learn.
        normalize: Scale pixels from [0, 16] to [0, 1].
        flatten: Images as rows of 64 values; otherwise as (8, 8, 1) arrays.

    Returns:
        A :class:`Dataset` with float32 ``x`` and int32 ``y``.

    Raises:
        ImportError: if scikit-learn is not installed.
        ValueError: if ``data_dir`` is given.
    """
    if data_dir is not None:
        raise ValueError(
            f'load("digits", data_dir={data_dir!r}): the digits ship inside scikit-learn and are read from '
            "there; leave data_dir as None."
        )
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as e:
        raise ImportError('load("digits") reads the data from scikit-learn: pip install scikit-learn') from e
    raw = sklearn_digits()
    x = raw.images.astype(np.float32)
    if normalize:
        x /= 16.0
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    y = raw.target.astype(np.int32)
    return Dataset(
        train=Split(x[:TRAIN_SIZE], y[:TRAIN_SIZE]),
        test=Split(x[TRAIN_SIZE:], y[TRAIN_SIZE:]),
    )
