"""Conv1D and Conv2D against a direct NumPy cross-correlation, and against jax.lax in another layout."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxnn import nn

RNG = np.random.default_rng(0)


def same_pads(size, k, s):
    """TensorFlow's SAME rule, re-derived: output ceil(size / s), the extra cell goes to the end."""
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def np_conv2d(x, w, b, stride, pads):
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    ho, wo = (h - kh) // stride[0] + 1, (wd - kw) // stride[1] + 1
    y = np.zeros((n, ho, wo, o))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride[0] : i * stride[0] + kh, j * stride[1] : j * stride[1] + kw, :]
            y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y + b


def random_params(kernel_shape):
    return {
        "w": RNG.standard_normal(kernel_shape).astype(np.float32),
        "b": RNG.standard_normal(4).astype(np.float32),
    }


X2 = RNG.standard_normal((2, 7, 6, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "kernel, stride, padding, pads",
    [
        (3, 1, "VALID", ((0, 0), (0, 0))),
        ((2, 3), (2, 1), "VALID", ((0, 0), (0, 0))),
        (3, 2, "SAME", (same_pads(7, 3, 2), same_pads(6, 3, 2))),
        ((2, 2), 1, "same", (same_pads(7, 2, 1), same_pads(6, 2, 1))),
        (3, 1, 1, ((1, 1), (1, 1))),
        (3, 2, [(0, 2), (1, 0)], ((0, 2), (1, 0))),
    ],
)
def test_conv2d_matches_numpy(kernel, stride, padding, pads):
    layer = nn.Conv2D(4, kernel, stride=stride, padding=padding)
    kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
    params = random_params((*kernel, 3, 4))
    y, state = layer.apply(params, {}, X2)
    stride = (stride, stride) if isinstance(stride, int) else stride
    expected = np_conv2d(X2.astype(np.float64), params["w"], params["b"], stride, pads)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    assert state == {}
    assert layer.output_shape((7, 6, 3)) == expected.shape[1:]


def test_conv2d_matches_lax_in_nchw_layout():
    layer = nn.Conv2D(4, 3, stride=2, padding="SAME", use_bias=False)
    w = random_params((3, 3, 3, 4))["w"]
    y, _ = layer.apply({"w": w}, {}, X2)
    reference = lax.conv_general_dilated(X2.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), (2, 2), "SAME")
    np.testing.assert_allclose(y, reference.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "stride, padding, pads", [(1, "VALID", (0, 0)), (2, "SAME", same_pads(9, 3, 2)), (1, 2, (2, 2))]
)
def test_conv1d_matches_numpy(stride, padding, pads):
    x = RNG.standard_normal((2, 9, 3)).astype(np.float32)
    params = random_params((3, 3, 4))
    y, _ = nn.Conv1D(4, 3, stride=stride, padding=padding).apply(params, {}, x)
    # A 1-D convolution is a 2-D one over a height-1 image.
    expected = np_conv2d(
        x[:, None].astype(np.float64), params["w"][None], params["b"], (1, stride), ((0, 0), pads)
    )
    np.testing.assert_allclose(y, expected[:, 0], rtol=1e-4, atol=1e-5)


def test_init_shapes_and_bias():
    params, state = nn.Conv1D(4, 3, w_init=nn.init.zeros()).init(jax.random.key(0), (9, 2))
    assert params["w"].shape == (3, 2, 4) and state == {}
    np.testing.assert_array_equal(params["b"], np.zeros(4))
    params, _ = nn.Conv2D(4, (2, 3), use_bias=False, w_init=nn.init.zeros()).init(
        jax.random.key(0), (7, 6, 3)
    )
    assert set(params) == {"w"} and params["w"].shape == (2, 3, 3, 4)


def test_kernel_init_uses_the_receptive_field_fan_in():
    params, _ = nn.Conv2D(32, 5).init(jax.random.key(0), (12, 12, 8))
    assert params["w"].shape == (5, 5, 8, 32)
    assert float(params["w"].std()) == pytest.approx(np.sqrt(1 / (5 * 5 * 8)), rel=0.05)


def test_wrong_rank_or_channels_names_layer_and_shapes():
    params = random_params((3, 3, 3, 4))
    with pytest.raises(
        ValueError, match=r"Conv2D\(4, kernel_size=\(3, 3\)\) .*\(batch, height, width, 3\).*\(2, 6, 6, 1\)"
    ):
        nn.Conv2D(4, 3).apply(params, {}, jnp.ones((2, 6, 6, 1)))
    with pytest.raises(ValueError, match=r"received shape \(6, 6, 3\).*channels-last"):
        nn.Conv2D(4, 3).apply(params, {}, jnp.ones((6, 6, 3)))
    with pytest.raises(ValueError, match=r"Conv1D\(4, kernel_size=3\) .*\(batch, length, 3\)"):
        nn.Conv1D(4, 3).apply(random_params((3, 3, 4)), {}, jnp.ones((2, 6, 6, 3)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kernel_size": (3, 3, 3)}, "kernel_size must be an int or a sequence of 2 ints"),
        ({"kernel_size": 0}, "kernel_size must be positive"),
        ({"kernel_size": 3, "stride": 0}, "stride must be positive"),
        ({"kernel_size": 3, "padding": "FULL"}, "padding must be 'SAME', 'VALID'.*got 'FULL'"),
        ({"kernel_size": 3, "padding": -1}, "padding must be .*got -1"),
        ({"kernel_size": 3, "padding": [(1, 1)]}, r"sequence of 2 \(low, high\) pairs"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        nn.Conv2D(4, **kwargs)


@pytest.mark.parametrize(
    "layer, input_shape, window, padded",
    [
        (nn.Conv2D(4, 5), (3, 3, 1), (5, 5), (3, 3)),  # used to give an output of shape (0, 0, 4)
        (nn.Conv2D(4, (2, 4), padding=((0, 0), (1, 0))), (6, 2, 1), (2, 4), (6, 3)),
        (nn.Conv1D(2, 7, padding=2), (2, 3), (7,), (6,)),
    ],
)
def test_a_kernel_larger_than_its_input_fails_at_init(layer, input_shape, window, padded):
    with pytest.raises(ValueError, match=rf"Conv[12]D.*the window {re.escape(str(window))} is larger than its input: "
                                         rf"input_shape={re.escape(str(input_shape))} has spatial size "
                                         rf"{re.escape(str(padded))} after padding"):
        layer.init(jax.random.key(0), input_shape)


def test_a_kernel_that_fits_only_with_padding_is_fine_and_the_check_reaches_later_layers():
    params, _ = nn.Conv1D(2, 5, padding=1).init(jax.random.key(0), (3, 1))
    assert params["w"].shape == (5, 1, 2)
    assert nn.Conv2D(2, 5, padding="SAME").output_shape((3, 3, 1)) == (3, 3, 2)
    model = nn.Sequential([nn.Conv2D(2, 3), nn.MaxPool(2), nn.Conv2D(2, 3)])  # 6 -> 4 -> 2, then 3 > 2
    with pytest.raises(ValueError, match=r"window \(3, 3\) is larger than its input: input_shape=\(2, 2, 2\)"):
        model.init(jax.random.key(0), (6, 6, 1))
