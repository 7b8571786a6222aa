"""``load``: one entry point for every data set read from disk or generated, by name."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from jaxnn.data import dataset, digits, mnist, mnist1d

# name -> (loader, number of classes)
_LOADERS: dict[str, tuple[Callable[..., dataset.Dataset], int]] = {
    "mnist1d": (mnist1d.load_mnist1d, mnist1d.CLASSES),
    "mnist": (functools.partial(mnist.load_mnist, "mnist"), mnist.CLASSES),
    "fashion_mnist": (functools.partial(mnist.load_mnist, "fashion_mnist"), mnist.CLASSES),
    "digits": (digits.load_digits, digits.CLASSES),
}
NAMES = tuple(sorted(_LOADERS))


def load(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    normalize: bool = True,
    flatten: bool = True,
    one_hot: bool = False,
    **options: Any,
) -> dataset.Dataset:
    """Loads a data set by name as NumPy arrays.

    ======================  =====================================================================
    ``"mnist1d"``           MNIST-1D, 4,000 / 1,000 × 40, generated locally (``pip install "jaxnn[data]"``)
    ``"mnist"``             MNIST, 60,000 / 10,000 × 28×28, downloaded once
    ``"fashion_mnist"``     Fashion-MNIST, same format as MNIST
    ``"digits"``            scikit-learn's 8×8 digits, 1,437 / 360 (needs scikit-learn)
    ======================  =====================================================================

    Files live in ``data_dir`` when given, else in ``$JAXNN_DATA_DIR/<name>``, else in
    ``~/.cache/jaxnn/<name>``. Downloaded files are checked against their published SHA-256; files placed by
    hand are checked only for structure (so subsets in the standard format load), unless ``verify=True``.

    Args:
        name: One of :data:`NAMES`.
        data_dir: The folder with the data set's files.
        normalize: Scale pixels to [0, 1] (no effect on MNIST-1D, which is already standardised).
        flatten: One row of features per example; otherwise images keep their (height, width, 1) shape and
            MNIST-1D signals become (40, 1).
        one_hot: Labels as float32 one-hot rows instead of int32 class indices.
        **options: Passed to the loader: for ``"mnist"`` and ``"fashion_mnist"``, ``verify``, ``download``,
            ``mirrors`` and ``checksums`` (see :func:`jaxnn.data.mnist.load_mnist`).

    Returns:
        A :class:`Dataset` with ``train`` and ``test`` splits of float32 ``x`` and int32 (or one-hot float32)
        ``y``; use :func:`jaxnn.data.split` to carve out a validation split.

    Raises:
        ValueError: if ``name`` is unknown.
    """
    if name not in _LOADERS:
        raise ValueError(
            f"load(name={name!r}): unknown data set; valid names are {', '.join(map(repr, NAMES))}. "
            "The toys are functions: jaxnn.data.spirals() and jaxnn.data.linear_regression()."
        )
    loader, classes = _LOADERS[name]
    data = loader(data_dir, normalize=normalize, flatten=flatten, **options)
    return dataset.one_hot(data, classes) if one_hot else data
