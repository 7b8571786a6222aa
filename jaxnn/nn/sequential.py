"""Sequential: a chain of layers, itself a layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax

from jaxnn.nn.layer import Layer, Params, Shape, State, as_layer, infer_output_shape


def Sequential(layers: Sequence[Layer | Callable[[jax.Array], jax.Array]]) -> Layer:
    """Applies ``layers`` in order; plain callables such as ``nn.relu`` become parameter-free layers.

    ``init(key, input_shape)`` splits ``key`` into one key per layer and infers each layer's input shape from
    the previous layer's output. ``apply`` threads the state and, when given a key, splits it per layer too.

    Params and state are dicts keyed by layer position, ``"0"``, ``"1"``, ...; layers without params (or
    state) are left out, so a model without BatchNorm has ``state == {}``. The output shape of one example is
    ``model.output_shape(input_shape)``.

    Example::

        model = nn.Sequential([nn.Dense(100), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(10)])
        params, state = model.init(jax.random.key(0), (784,))
        # params: {"0": {"w", "b"}, "1": {"gamma", "beta"}, "4": {"w", "b"}}; state: {"1": {"mean", "var"}}
        x, x_test = jnp.ones((32, 784)), jnp.ones((8, 784))
        logits, state = model.apply(params, state, x, train=True, key=jax.random.key(1))
        logits, _ = model.apply(params, state, x_test)
    """
    if isinstance(layers, Layer) or not isinstance(layers, Sequence):
        raise TypeError(
            f"Sequential takes a list of layers, e.g. Sequential([nn.Dense(10), nn.relu]); got {layers!r}."
        )
    layers = [as_layer(layer, f"Sequential layers[{i}]") for i, layer in enumerate(layers)]

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        params, state = {}, {}
        shape = tuple(input_shape)
        for i, (layer, layer_key) in enumerate(zip(layers, jax.random.split(key, len(layers)))):
            layer_params, layer_state = layer.init(layer_key, shape)
            shape = infer_output_shape(layer.apply, layer_params, layer_state, shape)
            if layer_params:
                params[str(i)] = layer_params
            if layer_state:
                state[str(i)] = layer_state
        return params, state

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        keys = [None] * len(layers) if key is None else jax.random.split(key, len(layers))
        new_state = {}
        for i, (layer, layer_key) in enumerate(zip(layers, keys)):
            x, layer_state = layer.apply(
                params.get(str(i), {}), state.get(str(i), {}), x, train=train, key=layer_key
            )
            if layer_state:
                new_state[str(i)] = layer_state
        return x, new_state

    return Layer(init, apply)
