import sys

import numpy as np
import pytest

from jaxnn.data.digits import load_digits


def test_splits_and_scaling():
    datasets = pytest.importorskip("sklearn.datasets")
    ref = datasets.load_digits()
    data = load_digits()
    assert data.train.x.shape == (1437, 64) and data.test.x.shape == (360, 64)
    assert data.train.x.dtype == np.float32 and data.test.y.dtype == np.int32
    np.testing.assert_allclose(np.concatenate([data.train.x, data.test.x]) * 16, ref.data, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([data.train.y, data.test.y]), ref.target)
    assert load_digits(normalize=False, flatten=False).test.x.shape == (360, 8, 8, 1)


def test_missing_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()


def test_data_dir_is_refused(tmp_path):
    with pytest.raises(ValueError, match="leave data_dir as None"):
        load_digits(tmp_path)
