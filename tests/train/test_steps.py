"""make_train_step / make_eval_step against the closed-form gradient of softmax regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import losses, nn, optim, train


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_one_sgd_step_matches_closed_form(l2):
    model = nn.Sequential([nn.Dense(3)])
    lr = 0.5
    opt = optim.sgd(lr)
    ts = train.create(model, opt, jax.random.key(0), (4,))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=8)
    w = np.asarray(ts.params["0"]["w"], np.float64)
    b = np.asarray(ts.params["0"]["b"], np.float64)

    ts1, metrics = jax.jit(train.make_train_step(model, opt, l2=l2))(ts, (x, y))

    # d/dW of mean cross-entropy is xᵀ(softmax − onehot)/N; the L2 term adds λW to the weights only.
    p = _softmax(x @ w + b)
    onehot = np.eye(3)[y]
    grad_w = x.T @ (p - onehot) / 8 + l2 * w
    grad_b = (p - onehot).mean(axis=0)
    np.testing.assert_allclose(ts1.params["0"]["w"], w - lr * grad_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ts1.params["0"]["b"], b - lr * grad_b, rtol=1e-5, atol=1e-6)
    assert metrics["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(8), y])), rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(np.mean(p.argmax(1) == y))
    assert int(ts1.step) == 1


def test_dropout_keys_follow_key_and_step():
    model = nn.Sequential([nn.Dense(8), nn.Dropout(0.5), nn.Dense(2)])
    opt = optim.sgd(0.1)
    ts = train.create(model, opt, jax.random.key(0), (3,))
    step = jax.jit(train.make_train_step(model, opt))
    batch = (jnp.ones((4, 3)), jnp.zeros(4, jnp.int32))
    a, ma = step(ts, batch)
    b, mb = step(ts, batch)
    assert float(ma["loss"]) == float(mb["loss"])  # same (key, step): same mask
    _, mc = step(ts._replace(step=ts.step + 1), batch)
    assert float(mc["loss"]) != float(ma["loss"])  # next step: a new mask


def test_eval_step_uses_running_statistics_and_no_dropout():
    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.Dropout(0.5), nn.Dense(2)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (3,))
    x = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 1, 0])
    metrics = train.make_eval_step(model)(ts, (x, y))
    logits, _ = model.apply(ts.params, ts.model_state, x, train=False)
    assert float(metrics["loss"]) == pytest.approx(float(losses.softmax_cross_entropy(logits, y)))


def _flax_style_dense(units):
    """A Dense layer keyed as Flax keys it (``kernel``/``bias``), written against the Layer contract."""

    def init(key, input_shape):
        kernel = jax.random.normal(key, (input_shape[-1], units)) * 0.5
        return {"kernel": kernel, "bias": jnp.linspace(-1.0, 1.0, units)}, {}

    def apply(params, state, x, *, train=False, key=None):
        return x @ params["kernel"] + params["bias"], state

    return nn.Layer(init, apply)


@pytest.mark.parametrize(
    "l2_mask, decay_kernel, decay_bias",
    [
        (None, True, False),
        ({"0": {"kernel": False, "bias": True}}, False, True),
        (lambda p: {"0": False}, False, False),
    ],
)
def test_l2_reaches_flax_style_kernels_and_follows_l2_mask(l2_mask, decay_kernel, decay_bias):
    # Before l2_mask, the penalty counted only leaves keyed "w": this model was trained with no L2 at all.
    model = nn.Sequential([_flax_style_dense(3)])
    lr, l2 = 0.5, 0.3
    opt = optim.sgd(lr)
    ts = train.create(model, opt, jax.random.key(0), (4,))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=8)
    w = np.asarray(ts.params["0"]["kernel"], np.float64)
    b = np.asarray(ts.params["0"]["bias"], np.float64)

    ts1, _ = jax.jit(train.make_train_step(model, opt, l2=l2, l2_mask=l2_mask))(ts, (x, y))

    dz = (_softmax(x @ w + b) - np.eye(3)[y]) / 8
    grad_w = x.T @ dz + (l2 * w if decay_kernel else 0.0)
    grad_b = dz.sum(axis=0) + (l2 * b if decay_bias else 0.0)
    np.testing.assert_allclose(ts1.params["0"]["kernel"], w - lr * grad_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ts1.params["0"]["bias"], b - lr * grad_b, rtol=1e-5, atol=1e-6)


def test_make_train_step_refuses_bad_l2_and_l2_mask_before_training():
    model = nn.Sequential([nn.Dense(2)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (3,))
    with pytest.raises(ValueError, match="l2=-0.5 is not allowed: l2 must be a number >= 0"):
        train.make_train_step(model, optim.sgd(0.1), l2=-0.5)
    step = train.make_train_step(model, optim.sgd(0.1), l2=0.1, l2_mask={"1": True})
    with pytest.raises(ValueError, match="l2_mask is not a tree prefix of the params"):
        jax.eval_shape(step, ts, (jnp.ones((4, 3)), jnp.zeros(4, jnp.int32)))
