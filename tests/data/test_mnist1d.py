import importlib.metadata
import json
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


FAKE_ARGS = {"num_samples": 10, "train_split": 0.8, "final_seq_length": 40, "seed": 1, "url": "unused"}


def _fake_make_dataset(args):
    return {
        "x": np.full((8, 40), 0.5),
        "y": np.arange(8),
        "x_test": np.full((2, 40), -0.5),
        "y_test": np.array([1, 2]),
    }


@pytest.fixture
def fake_generator(monkeypatch):
    """The package's generator replaced by a tiny one; returns the list of calls to make_dataset."""
    mnist1d_data = pytest.importorskip("mnist1d.data")
    calls = []
    monkeypatch.setattr(mnist1d_data, "get_dataset_args", lambda as_dict=False: dict(FAKE_ARGS))
    monkeypatch.setattr(mnist1d_data, "make_dataset", lambda args: calls.append(args) or _fake_make_dataset(args))
    return calls


def test_unreadable_cache_is_regenerated(tmp_path, fake_generator):
    (tmp_path / CACHE_FILE).write_bytes(b"not a zip file")
    data = load_mnist1d(tmp_path)
    assert data.train.y.tolist() == list(range(8)) and data.test.x.shape == (2, 40)
    with np.load(tmp_path / CACHE_FILE) as f:
        np.testing.assert_array_equal(f["x_test"], np.full((2, 40), -0.5, np.float32))


def test_cache_records_the_generator_version_and_arguments(tmp_path, fake_generator):
    load_mnist1d(tmp_path)
    with np.load(tmp_path / CACHE_FILE) as f:
        meta = json.loads(str(f["meta"]))
    args = {k: v for k, v in FAKE_ARGS.items() if k != "url"}
    assert meta == {"format": 2, "generator": f"mnist1d {importlib.metadata.version('mnist1d')}", "args": args}


def _write_cache(path, meta=None, **arrays):
    extra = {"meta": np.array(json.dumps(meta))} if meta is not None else {}
    np.savez(path / CACHE_FILE, **arrays, **extra)


@pytest.mark.parametrize(
    "bad",
    [
        # Any four arrays used to be returned as they were: here shape (3, 7), float64, labels 99 and -5.
        {"x_train": np.zeros((3, 7)), "y_train": np.array([99, -5, 0]), "x_test": np.zeros((1, 7)),
         "y_test": np.array([0])},
        {"x_train": np.zeros((8, 40), np.float32), "y_train": np.array([0, 1, 2, 3, 4, 5, 6, 99], np.int32),
         "x_test": np.zeros((2, 40), np.float32), "y_test": np.array([0, 1], np.int32)},
        {"x_train": np.full((8, 40), np.nan, np.float32), "y_train": np.arange(8, dtype=np.int32),
         "x_test": np.zeros((2, 40), np.float32), "y_test": np.array([0, 1], np.int32)},
    ],
)
@pytest.mark.parametrize("recorded", [True, False])
def test_a_cache_with_wrong_contents_or_no_record_is_regenerated(tmp_path, fake_generator, bad, recorded):
    load_mnist1d(tmp_path)
    with np.load(tmp_path / CACHE_FILE) as f:
        meta = json.loads(str(f["meta"]))
    _write_cache(tmp_path, meta if recorded else None, **bad)
    data = load_mnist1d(tmp_path)
    assert len(fake_generator) == 2
    assert data.train.x.shape == (8, 40) and data.train.y.tolist() == list(range(8))
    np.testing.assert_array_equal(data.test.y, [1, 2])


def test_a_cache_from_other_generator_arguments_is_regenerated(tmp_path, fake_generator, monkeypatch):
    load_mnist1d(tmp_path)
    import mnist1d.data

    monkeypatch.setattr(mnist1d.data, "get_dataset_args", lambda as_dict=False: {**FAKE_ARGS, "seed": 2})
    load_mnist1d(tmp_path)
    load_mnist1d(tmp_path)
    assert [args["seed"] for args in fake_generator] == [1, 2]


def test_without_the_package_a_valid_cache_loads_and_a_bad_one_is_named(tmp_path, fake_generator, monkeypatch):
    load_mnist1d(tmp_path)
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    assert load_mnist1d(tmp_path).train.y.tolist() == list(range(8))
    with np.load(tmp_path / CACHE_FILE) as f:
        arrays = {k: f[k] for k in f}
    arrays["y_test"] = np.array([1, -5], np.int32)
    np.savez(tmp_path / CACHE_FILE, **arrays)
    with pytest.raises(ImportError, match=rf"cache {tmp_path / CACHE_FILE} was not used: test: y\[1\] = -5"):
        load_mnist1d(tmp_path)


def test_default_folder_follows_the_env_var(data_home, fake_generator):
    load_mnist1d()
    assert (data_home / "mnist1d" / CACHE_FILE).is_file()


def test_missing_package_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r'pip install "jaxnn\[data\]"'):
        load_mnist1d(tmp_path)
    assert list(tmp_path.iterdir()) == []
