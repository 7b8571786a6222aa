"""Initializers: sample statistics against the textbook formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn
from jaxnn.nn.init import fans

FAN_OUT = 256


def expected_std(name, fan_in, fan_out):
    return {
        "lecun_normal": np.sqrt(1 / fan_in),
        "he_normal": np.sqrt(2 / fan_in),
        "he_uniform": np.sqrt(6 / fan_in) / np.sqrt(3),
        "xavier_normal": np.sqrt(2 / (fan_in + fan_out)),
        "xavier_uniform": np.sqrt(6 / (fan_in + fan_out)) / np.sqrt(3),
    }[name]


@pytest.mark.parametrize(
    "name", ["lecun_normal", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform"]
)
@pytest.mark.parametrize("fan_in", [16, 100, 400])
def test_sample_std_matches_the_formula(name, fan_in):
    w = np.asarray(getattr(nn.init, name)()(jax.random.key(fan_in), (fan_in, FAN_OUT)))
    assert w.shape == (fan_in, FAN_OUT)
    # At least 4096 samples: the sample std is within ~1.2% of the truth (1 sigma); allow 5%.
    assert w.std() == pytest.approx(expected_std(name, fan_in, FAN_OUT), rel=0.05)
    assert abs(w.mean()) < 0.1 * w.std()


def test_textbook_names_differ_as_documented():
    key, shape = jax.random.key(0), (200, 400)
    std = {name: float(getattr(nn.init, name)()(key, shape).std()) for name in ["lecun_normal", "he_normal"]}
    assert std["he_normal"] / std["lecun_normal"] == pytest.approx(np.sqrt(2), rel=0.03)


def test_uniform_variants_stay_inside_their_limit():
    w = np.asarray(nn.init.he_uniform()(jax.random.key(1), (50, 300)))
    limit = np.sqrt(6 / 50)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.98 * limit


def test_conv_kernel_fans_use_the_receptive_field():
    assert fans((5, 5, 8, 32)) == (5 * 5 * 8, 5 * 5 * 32)
    assert fans((3, 4, 6)) == (3 * 4, 3 * 6)
    assert fans((7, 9)) == (7, 9)
    assert fans((7,)) == (7, 7)
    w = np.asarray(nn.init.xavier_normal()(jax.random.key(2), (5, 5, 8, 32)))
    assert w.std() == pytest.approx(np.sqrt(2 / (200 + 800)), rel=0.05)


@pytest.mark.parametrize("std", [0.01, 1.0])
def test_normal_and_uniform_use_the_given_scale(std):
    w = np.asarray(nn.init.normal(std)(jax.random.key(4), (64, 128)))
    assert w.std() == pytest.approx(std, rel=0.05)
    u = np.asarray(nn.init.uniform(std)(jax.random.key(5), (64, 128)))
    assert u.std() == pytest.approx(std / np.sqrt(3), rel=0.05)
    assert -std <= u.min() < -0.95 * std and 0.95 * std < u.max() <= std


def test_zeros_and_constant():
    np.testing.assert_array_equal(nn.init.zeros()(jax.random.key(0), (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(nn.init.constant(0.5)(jax.random.key(0), (4,)), np.full(4, 0.5))


def test_same_key_same_weights_different_key_different_weights():
    init = nn.init.he_normal()
    np.testing.assert_array_equal(init(jax.random.key(7), (4, 5)), init(jax.random.key(7), (4, 5)))
    assert not np.allclose(init(jax.random.key(7), (4, 5)), init(jax.random.key(8), (4, 5)))


def test_dtype_is_respected_and_defaults_to_jax_default_float():
    assert nn.init.he_normal()(jax.random.key(0), (3, 3), jnp.bfloat16).dtype == jnp.bfloat16
    assert nn.init.uniform(0.1)(jax.random.key(0), (3, 3)).dtype == jnp.float32
    with jax.enable_x64(True):
        assert nn.init.xavier_normal()(jax.random.key(0), (3, 3)).dtype == jnp.float64


@pytest.mark.parametrize("factory, arg", [(nn.init.normal, "std"), (nn.init.uniform, "scale")])
def test_negative_scale_is_a_value_error_naming_argument_and_value(factory, arg):
    with pytest.raises(ValueError, match=f"{arg}=-0.1 is not allowed: {arg} must be a number >= 0"):
        factory(-0.1)


def test_std_may_be_traced_so_a_sweep_can_vmap_over_it():
    stds = jnp.array([0.01, 0.1, 1.0])
    samples = jax.vmap(lambda s: nn.init.normal(s)(jax.random.key(0), (64, 64)))(stds)
    np.testing.assert_allclose(samples.std(axis=(1, 2)), stds, rtol=0.05)
    # The same key gives the same standard-normal draw, scaled.
    np.testing.assert_allclose(samples[2], 100 * samples[0], rtol=1e-5)
