"""Dropout: statistics of the mask, determinism in the key, identity in evaluation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn

X = jnp.ones((100, 100))


def apply(rate, x=X, key=0, train=True):
    return np.asarray(nn.Dropout(rate).apply({}, {}, x, train=train, key=jax.random.key(key))[0])


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_keep_fraction_and_scaling(rate):
    y = apply(rate)
    kept = y != 0
    # 10,000 Bernoulli(1 - rate) draws: 5 standard deviations is a bound that fails by chance ~1e-6.
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / kept.size)
    np.testing.assert_allclose(y[kept], 1 / (1 - rate), rtol=1e-6)


def test_same_key_same_mask_different_key_different_mask():
    np.testing.assert_array_equal(apply(0.5, key=3), apply(0.5, key=3))
    assert (apply(0.5, key=3) != apply(0.5, key=4)).mean() > 0.3


def test_mean_is_preserved_in_expectation():
    x = jnp.asarray(np.random.default_rng(0).uniform(1.0, 3.0, X.shape), jnp.float32)
    y = np.stack([apply(0.3, x, key=k) for k in range(10)])
    # Each y is x·m/(1 − rate): unbiased; the relative error of the mean over 1e5 draws is ~0.3%.
    assert y.mean() == pytest.approx(float(x.mean()), rel=0.02)


def test_evaluation_is_the_identity_and_needs_no_key():
    x = np.random.default_rng(0).standard_normal((4, 5))
    y, state = nn.Dropout(0.5).apply({}, {}, x)
    assert y is x and state == {}


def test_rate_zero_is_exactly_the_identity_even_in_training():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    y, _ = nn.Dropout(0.0).apply({}, {}, x, train=True)
    np.testing.assert_array_equal(y, x)
    traced = jax.vmap(lambda r: nn.Dropout(r).apply({}, {}, x, train=True, key=jax.random.key(1))[0])
    np.testing.assert_array_equal(traced(jnp.zeros(2))[1], x)


def test_rate_may_be_traced_so_a_sweep_can_vmap_over_it():
    rates = jnp.array([0.1, 0.5, 0.9])
    y = jax.vmap(lambda r: nn.Dropout(r).apply({}, {}, X, train=True, key=jax.random.key(0))[0])(rates)
    for rate, y_rate in zip(np.asarray(rates), np.asarray(y)):
        assert abs((y_rate != 0).mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / X.size)
        np.testing.assert_allclose(y_rate[y_rate != 0], 1 / (1 - rate), rtol=1e-5)


def test_works_under_jit_with_static_train():
    fn = jax.jit(lambda x, key: nn.Dropout(0.5).apply({}, {}, x, train=True, key=key)[0])
    np.testing.assert_array_equal(fn(X, jax.random.key(3)), apply(0.5, key=3))


def test_missing_key_in_training_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Dropout\(0.2\) needs a PRNG key in training.*key=jax.random.key"):
        nn.Dropout(0.2).apply({}, {}, X, train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_rate_outside_zero_one_is_a_value_error_naming_the_value(rate):
    with pytest.raises(ValueError, match=rf"rate={rate} is not allowed: rate must be a number in \[0, 1\)"):
        nn.Dropout(rate)


def test_non_numeric_rate_is_a_type_error():
    with pytest.raises(TypeError, match="rate must be a number"):
        nn.Dropout("0.5")
