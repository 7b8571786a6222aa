import random
import sys

import numpy as np
import pytest

from jaxnn.data.mnist1d import CACHE_FILE, load_mnist1d


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Loads MNIST-1D once into a fresh folder, with the global RNG states around the call."""
    pytest.importorskip("mnist1d")
    folder = tmp_path_factory.mktemp("mnist1d")
    np.random.seed(123)
    random.seed(123)
    data = load_mnist1d(folder)
    return folder, data, np.random.rand(), random.random()


def test_shapes_classes_and_types(generated):
    _, data, _, _ = generated
    assert data.train.x.shape == (4000, 40) and data.test.x.shape == (1000, 40)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
    assert set(data.train.y.tolist()) == set(range(10)) == set(data.test.y.tolist())
    x = np.concatenate([data.train.x, data.test.x])
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-4  # the generator standardises the whole set


def test_matches_the_package_generator_with_default_args(generated):
    _, data, _, _ = generated
    from mnist1d.data import get_dataset_args, make_dataset

    ref = make_dataset(get_dataset_args())
    np.testing.assert_allclose(data.train.x, ref["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(data.test.x, ref["x_test"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(data.train.y, ref["y"])
    np.testing.assert_array_equal(data.test.y, ref["y_test"])


def test_leaves_global_random_state_alone(generated):
    _, _, np_draw, py_draw = generated
    np.random.seed(123)
    random.seed(123)
    assert (np_draw, py_draw) == (np.random.rand(), random.random())


def test_second_load_reads_the_cache(generated, monkeypatch):
    folder, data, _, _ = generated
    import mnist1d.data

    monkeypatch.setattr(mnist1d.data, "make_dataset", lambda *a, **k: pytest.fail("regenerated"))
    again = load_mnist1d(folder, flatten=False)
    assert again.train.x.shape == (4000, 40, 1)
    np.testing.assert_array_equal(again.train.x[..., 0], data.train.x)
    np.testing.assert_array_equal(again.test.y, data.test.y)


def _fake_make_dataset(args):
    return {
        "x": np.full((8, 40), 0.5),
        "y": np.arange(8),
        "x_test": np.full((2, 40), -0.5),
        "y_test": np.array([1, 2]),
    }


def test_unreadable_cache_is_regenerated(tmp_path, monkeypatch):
    mnist1d_data = pytest.importorskip("mnist1d.data")
    monkeypatch.setattr(mnist1d_data, "make_dataset", _fake_make_dataset)
    (tmp_path / CACHE_FILE).write_bytes(b"not a zip file")
    data = load_mnist1d(tmp_path)
    assert data.train.y.tolist() == list(range(8)) and data.test.x.shape == (2, 40)
    with np.load(tmp_path / CACHE_FILE) as f:
        np.testing.assert_array_equal(f["x_test"], np.full((2, 40), -0.5, np.float32))


def test_default_folder_follows_the_env_var(data_home, monkeypatch):
    mnist1d_data = pytest.importorskip("mnist1d.data")
    monkeypatch.setattr(mnist1d_data, "make_dataset", _fake_make_dataset)
    load_mnist1d()
    assert (data_home / "mnist1d" / CACHE_FILE).is_file()


def test_missing_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r'pip install "jaxnn\[data\]"'):
        load_mnist1d(tmp_path)
    assert list(tmp_path.iterdir()) == []
