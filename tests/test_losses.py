"""Losses and metrics against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import losses, nn

LOGITS = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [300.0, -200.0, 100.0], [-5.0, 4.0, 3.9]], np.float32)
LABELS = np.array([0, 2, 1, 1])


def np_log_softmax(z):
    z = z.astype(np.float64)
    shifted = z - z.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_cross_entropy_with_integer_labels():
    expected = -np.mean(np_log_softmax(LOGITS)[np.arange(4), LABELS])
    loss = losses.softmax_cross_entropy(jnp.asarray(LOGITS), jnp.asarray(LABELS))
    assert np.isfinite(loss)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_with_one_hot_and_soft_targets():
    one_hot = np.eye(3)[LABELS]
    assert float(losses.softmax_cross_entropy(LOGITS, jnp.asarray(one_hot, jnp.float32))) == pytest.approx(
        float(losses.softmax_cross_entropy(LOGITS, LABELS)), rel=1e-6
    )
    soft = np.asarray(jax.nn.softmax(np.random.default_rng(0).standard_normal((4, 3))), np.float64)
    expected = -np.mean((soft * np_log_softmax(LOGITS)).sum(-1))
    assert float(losses.softmax_cross_entropy(LOGITS, jnp.asarray(soft, jnp.float32))) == pytest.approx(
        expected, rel=1e-5
    )


def test_cross_entropy_gradient_is_softmax_minus_target_over_batch():
    grad = jax.grad(losses.softmax_cross_entropy)(jnp.asarray(LOGITS), jnp.asarray(LABELS))
    np.testing.assert_allclose(grad, (np.exp(np_log_softmax(LOGITS)) - np.eye(3)[LABELS]) / 4, atol=1e-6)


def test_cross_entropy_over_extra_leading_axes_is_a_mean():
    logits = np.stack([LOGITS, LOGITS[::-1]])
    labels = np.stack([LABELS, LABELS[::-1]])
    expected = -np.mean(np.take_along_axis(np_log_softmax(logits), labels[..., None], -1))
    assert float(losses.softmax_cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("bad", [3, -1, -3, 100])
def test_cross_entropy_and_accuracy_of_any_out_of_range_label_are_nan(bad):
    # A negative label used to wrap around to class K + label (so fit learnt class K - 1 for label -1).
    labels = np.array([0, 2, 1, bad])
    assert np.isnan(losses.softmax_cross_entropy(LOGITS, labels))
    assert np.isnan(jax.jit(losses.softmax_cross_entropy)(LOGITS, labels))
    assert np.isnan(losses.accuracy(LOGITS, labels))


def test_cross_entropy_gradient_stays_finite_for_valid_labels_next_to_the_label_check():
    grad = jax.grad(losses.softmax_cross_entropy)(jnp.asarray(LOGITS), jnp.asarray(LABELS))
    assert np.all(np.isfinite(grad))


def test_cross_entropy_shape_errors():
    with pytest.raises(ValueError, match=r"integer labels must have shape .*\(4,\), got \(4, 1\)"):
        losses.softmax_cross_entropy(LOGITS, LABELS[:, None])
    with pytest.raises(
        ValueError, match=r"float targets must have the shape of the logits, \(4, 3\), got \(4, 2\)"
    ):
        losses.softmax_cross_entropy(LOGITS, np.ones((4, 2), np.float32))


def test_mse():
    p = np.random.default_rng(0).standard_normal((5, 2))
    t = np.random.default_rng(1).standard_normal((5, 2))
    assert float(losses.mse(jnp.asarray(p, jnp.float32), jnp.asarray(t, jnp.float32))) == pytest.approx(
        np.mean((p - t) ** 2), rel=1e-5
    )
    with pytest.raises(
        ValueError, match=r"mse: predictions have shape \(5, 1\) but targets have shape \(5,\)"
    ):
        losses.mse(jnp.ones((5, 1)), jnp.ones(5))


def test_l2_penalty_counts_weights_but_not_biases_or_batchnorm():
    model = nn.Sequential(
        [nn.Conv1D(2, 3), nn.BatchNorm(), nn.Flatten(), nn.Dense(3, b_init=nn.init.normal(1.0)), nn.Dense(2)]
    )
    # The real layers' params structure (key names included), filled with NumPy values.
    shapes, _ = jax.eval_shape(lambda k: model.init(k, (6, 2)), jax.random.key(0))
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(s.shape), jnp.float32), shapes)
    weights = [np.asarray(params[k]["w"], np.float64) for k in ("0", "3", "4")]
    expected = 0.5 * 0.1 * sum((w**2).sum() for w in weights)
    assert float(losses.l2_penalty(params, 0.1)) == pytest.approx(expected, rel=1e-5)

    grads = jax.jit(jax.grad(losses.l2_penalty))(params, 0.1)
    for k in ("0", "3", "4"):
        np.testing.assert_allclose(grads[k]["w"], 0.1 * np.asarray(params[k]["w"]), rtol=1e-6)
        np.testing.assert_array_equal(grads[k]["b"], 0.0)
    np.testing.assert_array_equal(grads["1"]["gamma"], 0.0)
    np.testing.assert_array_equal(grads["1"]["beta"], 0.0)


def test_l2_penalty_of_no_weights_is_zero_and_l2_may_be_traced():
    assert float(losses.l2_penalty({"b": jnp.ones(3)}, 1.0)) == 0.0
    params = {"w": jnp.array([[1.0, 2.0]])}
    np.testing.assert_allclose(
        jax.vmap(losses.l2_penalty, (None, 0))(params, jnp.array([0.0, 1.0, 2.0])), [0, 2.5, 5]
    )
    with pytest.raises(ValueError, match="l2=-1 is not allowed: l2 must be a number >= 0"):
        losses.l2_penalty(params, -1)


def _flax_style_params():
    rng = np.random.default_rng(1)
    draw = lambda *shape: jnp.asarray(rng.standard_normal(shape), jnp.float32)  # noqa: E731
    return {
        "Conv_0": {"kernel": draw(3, 3, 1, 2), "bias": draw(2)},
        "BatchNorm_0": {"scale": draw(2), "bias": draw(2)},
        "Dense_0": {"kernel": draw(8, 4), "bias": draw(4)},
    }


def test_l2_penalty_counts_flax_kernels_by_default_and_follows_an_explicit_mask():
    # Before the mask, only leaves keyed "w" counted: a Flax model got no penalty at all.
    params = _flax_style_params()
    sq = lambda a: float((np.asarray(a, np.float64) ** 2).sum())  # noqa: E731
    kernels = sq(params["Conv_0"]["kernel"]) + sq(params["Dense_0"]["kernel"])
    assert float(losses.l2_penalty(params, 0.1)) == pytest.approx(0.05 * kernels, rel=1e-5)

    prefix = {"Conv_0": False, "BatchNorm_0": True, "Dense_0": {"kernel": True, "bias": False}}
    expected = sq(params["BatchNorm_0"]["scale"]) + sq(params["BatchNorm_0"]["bias"]) + sq(params["Dense_0"]["kernel"])
    assert float(losses.l2_penalty(params, 0.1, mask=prefix)) == pytest.approx(0.05 * expected, rel=1e-5)

    only_dense = lambda p: {k: k.startswith("Dense") for k in p}  # noqa: E731
    assert float(losses.l2_penalty(params, 0.1, mask=only_dense)) == pytest.approx(
        0.05 * (sq(params["Dense_0"]["kernel"]) + sq(params["Dense_0"]["bias"])), rel=1e-5
    )


def test_l2_penalty_refuses_a_mask_that_does_not_fit_the_params():
    params = _flax_style_params()
    with pytest.raises(ValueError, match=r"mask is not a tree prefix of the params(.|\n)*Dense_0"):
        losses.l2_penalty(params, 0.1, mask={"Conv_0": True})
    with pytest.raises(TypeError, match=r"mask\['Conv_0'\]=1 is not allowed: every leaf of mask must be a Python bool"):
        losses.l2_penalty(params, 0.1, mask={"Conv_0": 1, "BatchNorm_0": True, "Dense_0": True})


def test_accuracy():
    assert float(losses.accuracy(LOGITS, LABELS)) == pytest.approx(np.mean(LOGITS.argmax(-1) == LABELS))
    assert float(losses.accuracy(LOGITS, np.eye(3, dtype=np.float32)[LABELS])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="accuracy: targets of shape"):
        losses.accuracy(LOGITS, LABELS[:3])
