"""The layer contract and its shared validation helpers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn
from jaxnn.nn.layer import Layer, as_layer, feature_size, positive_int, positive_ints


def test_as_layer_wraps_a_plain_callable_as_a_parameter_free_layer():
    layer = as_layer(lambda x: 2 * x + 1, "fn")
    params, state = layer.init(jax.random.key(0), (3,))
    y, new_state = layer.apply(params, state, jnp.arange(6.0).reshape(2, 3), train=True, key=None)
    assert (params, state, new_state) == ({}, {}, {})
    np.testing.assert_array_equal(y, 2 * np.arange(6.0).reshape(2, 3) + 1)


def test_as_layer_rejects_non_callables_naming_the_argument():
    with pytest.raises(TypeError, match=r"layers\[2\] must be a Layer.*got 3"):
        as_layer(3, "layers[2]")


def test_output_shape_is_inferred_without_computing():
    assert nn.Dense(7).output_shape((5,)) == (7,)
    assert nn.Dense(7).output_shape((4, 5)) == (4, 7)
    assert nn.Conv2D(3, 3, stride=2, padding="SAME").output_shape((9, 9, 2)) == (5, 5, 3)
    assert isinstance(nn.Dense(7), Layer)


def test_shape_errors_at_init_say_which_input_shape_was_traced():
    with pytest.raises(ValueError, match=r"Conv2D.*input_shape=\(1, 8, 8, 1\)"):
        nn.Sequential([nn.Conv2D(2, 3, w_init=nn.init.zeros())]).init(jax.random.key(0), (1, 8, 8, 1))


def test_feature_size_counts_axes_of_the_batched_input():
    assert feature_size("L", (5, 7), -1) == 7
    assert feature_size("L", (5, 7), 1) == 5
    with pytest.raises(ValueError, match=r"L cannot find a feature axis -1 in input_shape=\(\)"):
        feature_size("L", (), -1)
    with pytest.raises(ValueError, match="axis 0"):
        feature_size("L", (5,), 0)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "3", None])
def test_positive_int_names_argument_and_value(bad):
    with pytest.raises((TypeError, ValueError), match=f"units must be a positive int, got {bad!r}"):
        positive_int("units", bad)


def test_positive_ints_broadcasts_an_int_and_checks_the_length():
    assert positive_ints("kernel_size", 3, 2) == (3, 3)
    assert positive_ints("kernel_size", (2, 3), 2) == (2, 3)
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a sequence of 2 ints.*\(2, 3, 4\)"):
        positive_ints("kernel_size", (2, 3, 4), 2)
    with pytest.raises(ValueError, match=r"kernel_size must be positive, got \(2, 0\)"):
        positive_ints("kernel_size", (2, 0), 2)
    with pytest.raises(TypeError, match="kernel_size"):
        positive_ints("kernel_size", 2.0, 2)
