"""Data sets as NumPy arrays: MNIST-1D, MNIST, Fashion-MNIST, scikit-learn's digits and toys made in code.

``load(name)`` returns a :class:`Dataset` of ``train`` / ``test`` :class:`Split` s; ``split`` moves part of
``train`` into ``val``. Files are kept in ``$JAXNN_DATA_DIR/<name>`` or ``~/.cache/jaxnn/<name>``.
"""

from jaxnn.data.catalog import NAMES, load
from jaxnn.data.dataset import Dataset, Split, check_finite, check_labels, check_split, one_hot, split
from jaxnn.data.download import DownloadError
from jaxnn.data.idx import parse_idx, read_idx
from jaxnn.data.toys import linear_regression, spirals

__all__ = [
    "NAMES",
    "Dataset",
    "DownloadError",
    "Split",
    "check_finite",
    "check_labels",
    "check_split",
    "linear_regression",
    "load",
    "one_hot",
    "parse_idx",
    "read_idx",
    "spirals",
    "split",
]
