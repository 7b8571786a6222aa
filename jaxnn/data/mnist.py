"""MNIST and Fashion-MNIST from their standard IDX files: found on disk or downloaded and checksummed.

Checksum policy: a file this module downloads is kept only if its SHA-256 matches the published one. Files
already on disk, e.g. placed by hand, are only checked for structure (magic numbers, header counts against
file size, matching image and label counts), so that subsets or re-packaged copies in the standard format
load too; ``verify=True`` also checks them against the known checksums of the full data sets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxnn.data.dataset import Dataset, Split
from jaxnn.data.download import ensure_files, sha256
from jaxnn.data.idx import read_idx
from jaxnn.data.storage import dataset_dir


class Source(NamedTuple):
    """Where a data set's files are published, and their SHA-256 digests."""

    mirrors: tuple[str, ...]
    checksums: dict[str, str]


TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
CLASSES = 10

# SHA-256 digests as published by tensorflow-datasets (url_checksums/mnist.txt, fashion_mnist.txt); they match
# the MD5 sums torchvision lists for the same files.
SOURCES = {
    "mnist": Source(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        checksums={
            TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion_mnist": Source(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        checksums={
            TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
}


def load_mnist(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    *,
    normalize: bool = True,
    flatten: bool = True,
    verify: bool = False,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> Dataset:
    """Loads MNIST or Fashion-MNIST (60,000 train / 10,000 test 28×28 grey images, 10 classes).

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        data_dir: The folder with the four ``*-ubyte.gz`` files; default ``$JAXNN_DATA_DIR/<name>`` or
            ``~/.cache/jaxnn/<name>``. Missing files are downloaded into it.
        normalize: Scale pixels from [0, 255] to [0, 1].
        flatten: Images as rows of 784 values; otherwise as (28, 28, 1) arrays.
        verify: Also check files already on disk against the known SHA-256 digests (see module docstring).
        download: Fetch missing files; if False, a missing file is an error.
        mirrors: Base URLs to download from instead of the standard mirrors.
        checksums: File name to SHA-256, replacing the known digest of the files it names.

    Returns:
        A :class:`Dataset` with float32 ``x`` and int32 ``y``.

    Raises:
        ValueError: for an unknown ``name`` or ``checksums`` key, or a file that is corrupt, inconsistent or
            (with ``verify=True``) differs from the known one.
        FileNotFoundError, DownloadError: if files are missing and cannot be downloaded.
    """
    if name not in SOURCES:
        raise ValueError(f"load_mnist(name={name!r}): unknown data set; use one of {sorted(SOURCES)}.")
    source = SOURCES[name]
    unknown = set(checksums or {}) - set(source.checksums)
    if unknown:
        raise ValueError(
            f"load_mnist(checksums=...): unknown file names {sorted(unknown)}; the files are {list(source.checksums)}."
        )
    expected = {**source.checksums, **(checksums or {})}
    folder = dataset_dir(name, data_dir)
    downloaded = ensure_files(folder, expected, source.mirrors if mirrors is None else mirrors, download=download)
    if verify:
        for file in (f for f in expected if f not in downloaded):
            _verify(folder / file, expected[file])
    train = _split(folder, TRAIN_IMAGES, TRAIN_LABELS, normalize, flatten)
    test = _split(folder, TEST_IMAGES, TEST_LABELS, normalize, flatten)
    return Dataset(train=train, test=test)


def _verify(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise ValueError(
            f"{path} has SHA-256 {actual}, but the known file has {expected}. verify=True checks local files "
            "against the full data set's published digests: delete the file to download it again, or pass "
            "verify=False to load a file that differs on purpose (e.g. a subset)."
        )


def _split(folder: Path, images_file: str, labels_file: str, normalize: bool, flatten: bool) -> Split:
    images, labels = read_idx(folder / images_file), read_idx(folder / labels_file)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{folder / images_file} holds a {images.dtype} array of shape {images.shape}; expected uint8 "
            "images of shape (n, 28, 28). Replace it with the standard file."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1 or (labels.size and labels.max() >= CLASSES):
        raise ValueError(
            f"{folder / labels_file} holds a {labels.dtype} array of shape {labels.shape}; expected uint8 "
            f"labels in [0, {CLASSES}) of shape (n,). Replace it with the standard file."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{folder / images_file} holds {len(images)} images but {labels_file} holds {len(labels)} labels; "
            "the two files must come from the same set."
        )
    x = images.astype(np.float32)
    if normalize:
        x /= 255.0
    x = x.reshape(len(x), -1) if flatten else x[..., None]
    return Split(x, labels.astype(np.int32))
