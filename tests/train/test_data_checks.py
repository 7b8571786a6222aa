"""train.check_data and what calls it: bad values are refused on the host, naming the array and the index."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn, optim, train


def _setup(n=12):
    model = nn.Sequential([nn.Dense(3)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (2,))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = rng.integers(0, 3, size=n).astype(np.int32)
    return model, ts, x, y


def _fit(ts, model, data, **kwargs):
    return train.fit(ts, train.make_train_step(model, optim.sgd(0.1)), data, epochs=1, batch_size=4,
                     progress=False, **kwargs)


def test_fit_refuses_a_negative_label_naming_value_and_index():
    # Before: softmax_cross_entropy wrapped -1 around to class 2 and fit trained on it, finite loss and all.
    model, ts, x, y = _setup()
    y[7] = -1
    with pytest.raises(ValueError, match=r"data: y\[7\] = -1 is not a class label: integer labels must be >= 0"):
        _fit(ts, model, (x, y))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_refuses_non_finite_inputs_naming_the_first_bad_index(bad):
    model, ts, x, y = _setup()
    x[5, 1] = bad
    x[9, 0] = bad
    with pytest.raises(ValueError, match=rf"data: x\[5, 1\] = {bad} is not finite"):
        _fit(ts, model, (x, y))


def test_fit_refuses_non_finite_eval_data_before_training():
    model, ts, x, y = _setup()
    x_eval = x.copy()
    x_eval[2, 0] = np.nan
    trained = []
    with pytest.raises(ValueError, match=r"eval_data: x\[2, 0\] = nan is not finite"):
        _fit(ts, model, (x, y), eval_data=(x_eval, y), eval_step=train.make_eval_step(model),
             callbacks=lambda epoch, record: trained.append(epoch))
    assert trained == []


def test_check_data_with_num_classes_refuses_labels_at_or_above_it():
    _, _, x, y = _setup()
    y[3] = 3
    with pytest.raises(ValueError, match=r"data: y\[3\] = 3 is not a class label: integer labels must be in \[0, 3\)"):
        train.check_data((x, y), "data", num_classes=3)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=rf"data: num_classes={bad} is not allowed: it must be None or an int"):
            train.check_data((x, y), "data", num_classes=bad)
    y[3] = 2
    checked_x, checked_y = train.check_data((jnp.asarray(x), y), "data", num_classes=3)
    np.testing.assert_array_equal(checked_y, y)
    np.testing.assert_array_equal(checked_x, x)


def test_check_data_refuses_non_finite_float_targets_and_accepts_clean_regression_data():
    x = np.ones((4, 1), np.float32)
    y = np.array([[0.5], [1.0], [np.nan], [2.0]], np.float32)
    with pytest.raises(ValueError, match=r"data: y\[2, 0\] = nan is not finite"):
        train.check_data((x, y), "data")
    y[2] = -3.0  # negative float targets are regression targets, not labels
    train.check_data((x, y), "data")


def _bn_setup(n):
    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.Dense(2)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (3,))
    x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    return model, ts, (x, (x[:, 0] > 0).astype(np.int32))


def test_check_remainder_refuses_a_last_batch_of_one_through_batchnorm():
    model, ts, data = _bn_setup(9)
    step = train.make_train_step(model, optim.sgd(0.1))
    with pytest.raises(ValueError, match=r"(?s)drop_last=False: the last minibatch of every epoch holds 1 example"
                                         r".*batch_size=4.*BatchNorm\(axis=-1\) in training mode.*shape \(1, 4\)"):
        train.check_remainder(ts, step, data, batch_size=4, drop_last=False)
    train.check_remainder(ts, step, data, batch_size=4, drop_last=True)  # no partial batch: nothing to refuse
    train.check_remainder(ts, step, data, batch_size=3, drop_last=False)  # no remainder
    train.check_remainder(ts, step, data, batch_size=7, drop_last=False)  # a remainder of 2 is fine


def test_fit_never_trains_batchnorm_on_a_batch_of_one():
    # Before: fit(drop_last=False) with n % batch_size == 1 trained on it, silently.
    model, ts, data = _bn_setup(9)
    with pytest.raises(ValueError, match=r"in training mode needs more than one value per feature"):
        train.fit(ts, train.make_train_step(model, optim.sgd(0.1)), data, epochs=1, batch_size=4, drop_last=False,
                  progress=False)


def test_host_data_is_checked_in_the_dtype_the_device_holds():
    # A float64 value beyond float32's range is Inf once on the device: the host check must see it so.
    x = np.ones((4, 2), np.float64)
    x[1, 1] = 1e39
    with pytest.raises(ValueError, match=r"data: x\[1, 1\] = inf is not finite"):
        train.check_data((x, np.zeros(4, np.int64)), "data")
    x[1, 1] = 2.0
    checked_x, checked_y = train.check_data((x, np.arange(4)), "data")
    assert checked_x.dtype == jnp.float32 and checked_y.dtype == jnp.int32 and isinstance(checked_x, jax.Array)
    np.testing.assert_array_equal(checked_x, x.astype(np.float32))


def test_host_data_is_checked_without_compiling_a_program():
    _, _, x, y = _setup(n=13)  # a shape no other test checks, so a device check would compile
    compiled = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(kwargs.get("fun_name"))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        train.check_data((x, y), "data", num_classes=3)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert compiled == []
