import jax
import numpy as np
import pytest

from jaxnn.data import Dataset, Split, check_split, one_hot, split


def _data(n=20):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)  # row i starts with 3i: an id per example
    return Dataset(train=Split(x, np.arange(n, dtype=np.int32) % 4), test=Split(x[:2], np.zeros(2, np.int32)))


def test_split_moves_a_fraction_of_train():
    data = _data()
    out = split(data, 0.25, jax.random.key(0))
    ids = np.concatenate([out.train.x[:, 0], out.val.x[:, 0]]) / 3
    assert len(out.val.x) == 5 and len(out.train.x) == 15
    assert sorted(ids.tolist()) == list(range(20))  # a partition of the original examples
    for s in (out.train, out.val):
        assert np.all(np.diff(s.x[:, 0]) > 0)  # original order kept
        np.testing.assert_array_equal(s.y, (s.x[:, 0] / 3).astype(np.int32) % 4)  # rows stay paired
    assert out.test is data.test


def test_split_is_a_function_of_the_key():
    data = _data(100)
    a, b = split(data, 0.3, 7), split(data, 0.3, jax.random.key(7))
    np.testing.assert_array_equal(a.val.x, b.val.x)
    assert not np.array_equal(a.val.x, split(data, 0.3, 8).val.x)


def test_split_accepts_a_raw_key():
    out = split(_data(), 0.5, jax.random.PRNGKey(0))
    assert len(out.val.x) == 10


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_split_fraction_outside_unit_interval(fraction):
    with pytest.raises(ValueError, match="val_fraction must lie strictly between 0 and 1"):
        split(_data(), fraction, 0)


def test_split_refuses_empty_part_and_second_split():
    with pytest.raises(ValueError, match="moves 0 of 20"):
        split(_data(), 0.01, 0)
    with pytest.raises(ValueError, match="already has a val split"):
        split(split(_data(), 0.5, 0), 0.5, 0)


def test_one_hot_every_split():
    data = split(_data(), 0.5, 0)
    out = one_hot(data, 5)
    for before, after in zip(data, out, strict=True):
        assert after.y.dtype == np.float32 and after.y.shape == (len(before.y), 5)
        for label, row in zip(before.y, after.y, strict=True):
            assert row.tolist() == [1.0 if c == label else 0.0 for c in range(5)]
    assert one_hot(_data(), 4).val is None


def test_one_hot_label_out_of_range():
    with pytest.raises(ValueError, match=r"one_hot\(classes=3\): y\[\d+\] = [34] is not a class label: .*\[0, 3\)"):
        one_hot(_data(), 3)


def test_check_split_names_the_array_the_first_bad_index_and_the_value():
    x = np.zeros((4, 2, 3), np.float32)
    x[2, 1, 0], x[3, 0, 0] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"^train: x\[2, 1, 0\] = inf is not finite.*example 2\.$"):
        check_split(x, np.arange(4), "train")
    with pytest.raises(ValueError, match=r"^val: y\[1\] = -2 is not a class label: integer labels must be >= 0"):
        check_split(np.zeros((3, 1)), np.array([0, -2, -1]), "val")
    with pytest.raises(ValueError, match=r"y\[2\] = 7 is not a class label: integer labels must be in \[0, 5\)"):
        check_split(np.zeros((3, 1)), np.array([0, 4, 7]), "val", classes=5)
    check_split(np.zeros((3, 1)), np.array([[0.0], [-2.0], [5.0]]), "regression")  # float targets: not labels
    check_split(np.zeros((3, 1), np.uint8), np.array([0, 4, 2], np.uint8), "images", classes=5)


def test_containers_are_pytrees():
    leaves = jax.tree.leaves(_data())
    assert len(leaves) == 4  # val=None contributes no leaf
