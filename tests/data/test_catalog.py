import numpy as np
import pytest

from jaxnn.data import NAMES, load


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="name='cifar10'") as e:
        load("cifar10")
    for name in ("mnist1d", "mnist", "fashion_mnist", "digits"):
        assert repr(name) in str(e.value)
    assert set(NAMES) == {"mnist1d", "mnist", "fashion_mnist", "digits"}


def test_mnist_through_load_with_one_hot(fake_mnist):
    data = load("mnist", fake_mnist.folder, one_hot=True, flatten=False)
    assert data.train.x.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(data.train.y, np.eye(10, dtype=np.float32)[[3, 1, 4, 1, 5, 9]])


def test_options_reach_the_loader(data_home):
    with pytest.raises(FileNotFoundError, match=f"missing from {data_home / 'fashion_mnist'}"):
        load("fashion_mnist", download=False)
