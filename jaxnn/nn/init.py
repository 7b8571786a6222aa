"""Weight initializers: ``init(key, shape, dtype=None) -> array``, the signature of ``jax.nn.initializers``.

``dtype=None`` means JAX's default float (float32, or float64 under ``jax.enable_x64``).

Fans. A Dense matrix of shape ``(in, out)`` has ``fan_in = in`` and ``fan_out = out``. A conv kernel of
shape ``(spatial..., in, out)`` has ``fan_in = in * r`` and ``fan_out = out * r``, where ``r`` is the
receptive field size (the product of the spatial sizes): every output sums over ``in * r`` inputs.

Which textbook name is which:

- ``xavier_normal``: N(0, 2 / (fan_in + fan_out)). Glorot normal (Glorot & Bengio 2010).
- ``xavier_uniform``: U(±√(6 / (fan_in + fan_out))). Glorot uniform, Keras' default.
- ``lecun_normal``: N(0, 1 / fan_in). LeCun normal; the "Xavier initial value" std √(1/n) of *Deep Learning
  from Scratch* (Saito, ch. 6), meant for sigmoid/tanh; Flax's Dense default and ours.
- ``he_normal``: N(0, 2 / fan_in). He / MSRA / Kaiming normal (fan_in mode), meant for ReLU.
- ``he_uniform``: U(±√(6 / fan_in)). He / Kaiming uniform.

The factory arguments (``std``, ``scale``, ``value``) may be traced, so a sweep can ``vmap`` over them.

Random stream. Called on its own, ``normal(std)(key, shape)`` is ``std * jax.random.normal(key, shape)`` and
``uniform(scale)(key, shape)`` is ``scale * jax.random.uniform(key, shape, minval=-1, maxval=1)``. Inside a
layer's ``init`` (``model.init``, ``train.create``, a sweep) every initializer's standard samples are instead
cut, in call order, from one draw of the model's key for the whole model (``jax.random.uniform`` of all of them
at once, the normals through the inverse CDF √2 · erfinv(u), in the widest dtype asked for), which compiles
one random computation instead of one per weight. So ``model.init(key, shape)`` gives other
weights than drawing each layer's weights from the key its container hands it, as jaxnn did before, and a
layer's initial weights change when a layer before it draws more or fewer samples; the distributions are
those stated here either way.

Example::

    w = nn.init.he_normal()(jax.random.key(0), (784, 100))   # std ≈ √(2/784)
    w = nn.init.normal(0.01)(jax.random.key(0), (784, 100))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn._draw import standard
from jaxnn.validation import check_range

Initializer = Callable[..., jax.Array]
"""``init(key, shape, dtype=None) -> array``."""


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``: ``(in, out)`` or a kernel ``(spatial..., in, out)``.

    A vector (a bias) counts its length for both; a scalar counts 1.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        n = shape[0] if shape else 1
        return n, n
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def zeros() -> Initializer:
    """All zeros (the default for biases)."""

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        return jnp.zeros(shape, dtype)

    return init


def constant(value: Any) -> Initializer:
    """Every entry equal to ``value``."""

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        return jnp.full(shape, value, dtype)

    return init


def normal(std: Any) -> Initializer:
    """N(0, std²): the *weight_init_std* of *Deep Learning from Scratch* (``normal(0.01)``, ``normal(1.0)``).

    Raises:
        ValueError: if a concrete ``std`` is negative or not finite in float32 (``normal(1e39)``).
    """
    check_range("std", std, lambda s: s >= 0, "a number >= 0")

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        z = standard("normal", key, shape, dtype)
        return (std * z).astype(z.dtype)

    return init


def uniform(scale: Any) -> Initializer:
    """U(−scale, scale), symmetric about zero (std = scale/√3).

    Raises:
        ValueError: if a concrete ``scale`` is negative or not finite in float32.
    """
    check_range("scale", scale, lambda s: s >= 0, "a number >= 0")

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        u = standard("uniform", key, shape, dtype)
        return (scale * u).astype(u.dtype)

    return init


def _variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    """Var(w) = scale / fan, fan = fan_in or the mean (fan_in + fan_out) / 2; U(±a) has variance a²/3."""

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        fan_in, fan_out = fans(shape)
        std = math.sqrt(scale / (fan_in if mode == "fan_in" else (fan_in + fan_out) / 2))
        sample = normal(std) if distribution == "normal" else uniform(math.sqrt(3.0) * std)
        return sample(key, shape, dtype)

    return init


def xavier_normal() -> Initializer:
    """Glorot normal: N(0, 2 / (fan_in + fan_out)), keeping both forward and backward variances near 1."""
    return _variance_scaling(1.0, "fan_avg", "normal")


def xavier_uniform() -> Initializer:
    """Glorot uniform: U(±√(6 / (fan_in + fan_out)))."""
    return _variance_scaling(1.0, "fan_avg", "uniform")


def lecun_normal() -> Initializer:
    """LeCun normal: N(0, 1 / fan_in); std √(1/n) is what *Deep Learning from Scratch* calls "Xavier"."""
    return _variance_scaling(1.0, "fan_in", "normal")


def he_normal() -> Initializer:
    """He (MSRA, Kaiming) normal: N(0, 2 / fan_in); the factor 2 makes up for ReLU zeroing half its inputs."""
    return _variance_scaling(2.0, "fan_in", "normal")


def he_uniform() -> Initializer:
    """He (Kaiming) uniform: U(±√(6 / fan_in)), the same variance 2 / fan_in as :func:`he_normal`."""
    return _variance_scaling(2.0, "fan_in", "uniform")
