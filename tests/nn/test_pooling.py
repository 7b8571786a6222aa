"""Max and average pooling against NumPy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn


def np_pool(x, window, stride, pads, reduce):
    """Pads with NaN so that padded cells can be left out of both the max and the mean."""
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=np.nan)
    ho = (x.shape[1] - window[0]) // stride[0] + 1
    wo = (x.shape[2] - window[1]) // stride[1] + 1
    y = np.zeros((x.shape[0], ho, wo, x.shape[3]))
    for i in range(ho):
        for j in range(wo):
            cells = x[:, i * stride[0] : i * stride[0] + window[0], j * stride[1] : j * stride[1] + window[1]]
            y[:, i, j] = reduce(cells, axis=(1, 2))
    return y


X = np.random.default_rng(0).standard_normal((2, 5, 6, 3))


@pytest.mark.parametrize("layer_fn, reduce", [(nn.MaxPool, np.nanmax), (nn.AvgPool, np.nanmean)])
@pytest.mark.parametrize(
    "window, stride, padding, pads",
    [
        (2, None, "VALID", ((0, 0), (0, 0))),
        ((2, 3), 1, "VALID", ((0, 0), (0, 0))),
        (3, 2, 1, ((1, 1), (1, 1))),
        (2, 2, "SAME", ((0, 1), (0, 0))),
    ],
)
def test_pooling_matches_numpy(layer_fn, reduce, window, stride, padding, pads):
    layer = layer_fn(window, stride, padding)
    y, state = layer.apply({}, {}, jnp.asarray(X, jnp.float32))
    window = (window, window) if isinstance(window, int) else window
    stride = window if stride is None else (stride, stride)
    np.testing.assert_allclose(y, np_pool(X, window, stride, pads, reduce), rtol=1e-5, atol=1e-6)
    assert state == {}
    assert layer.output_shape(X.shape[1:]) == y.shape[1:]


def test_pooling_1d():
    x = X[:, 0]
    y, _ = nn.MaxPool(2).apply({}, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, np.maximum(x[:, 0::2], x[:, 1::2]), rtol=1e-6)
    y, _ = nn.AvgPool(3, stride=1).apply({}, {}, jnp.asarray(x))
    np.testing.assert_allclose(y, (x[:, :-2] + x[:, 1:-1] + x[:, 2:]) / 3, rtol=1e-5)


def test_max_pool_gradient_routes_to_the_arg_max():
    x = jnp.array([[1.0, 5.0, 2.0, 0.0]])[..., None]
    grad = jax.grad(lambda x: nn.MaxPool(2).apply({}, {}, x)[0].sum())(x)
    np.testing.assert_array_equal(grad[0, :, 0], [0.0, 1.0, 1.0, 0.0])


def test_wrong_rank_names_layer_and_shapes():
    with pytest.raises(
        ValueError, match=r"MaxPool\(\(2, 2\)\) expected .*\(batch, height, width, channels\).*\(4, 3\)"
    ):
        nn.MaxPool((2, 2)).apply({}, {}, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"AvgPool\(2\) expected .*received shape \(4, 3\)"):
        nn.AvgPool(2).apply({}, {}, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="window must be positive"):
        nn.MaxPool(0)


@pytest.mark.parametrize(
    "layer, input_shape, match",
    [
        (nn.MaxPool(4), (3, 3, 2), r"MaxPool\(4\): the window \(4, 4\) is larger than its input: .*\(3, 3, 2\)"),
        (nn.AvgPool((2, 5), stride=1), (8, 4, 1), r"AvgPool\(\(2, 5\)\): the window \(2, 5\) .* spatial size \(8, 4\)"),
        (nn.MaxPool(3, padding=((0, 0),)), (2, 5), r"MaxPool\(3\): the window \(3,\) .* input_shape=\(2, 5\)"),
    ],
)
def test_a_window_larger_than_its_input_fails_at_init(layer, input_shape, match):
    # Before: init passed and apply returned an empty array (a later mean is NaN).
    with pytest.raises(ValueError, match=match):
        layer.init(jax.random.key(0), input_shape)


def test_a_window_that_fits_after_padding_initialises():
    assert nn.MaxPool(4, padding="SAME").output_shape((3, 3, 2)) == (1, 1, 2)
    assert nn.AvgPool(4, padding=1).output_shape((2, 2, 1)) == (1, 1, 1)
