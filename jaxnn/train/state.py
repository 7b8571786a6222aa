"""``TrainState``: everything a training run carries from one step to the next, as one pytree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.optim import Optimizer


class TrainState(NamedTuple):
    """The whole state of a training run.

    Being a plain pytree, it can be jitted over, vmapped over (one leading axis per configuration in a sweep),
    checkpointed and restored bit for bit.

    Attributes:
        params: the model's trainable parameters.
        model_state: non-trainable state such as BatchNorm running statistics (``{}`` when none).
        opt_state: the optimizer state, hyperparameters included.
        step: number of training steps taken (int32 scalar).
        key: the run's PRNG key; dropout and shuffling keys are derived from it and the step/epoch, never
            split and carried, so a resumed run draws exactly the same numbers.
    """

    params: Any
    model_state: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array


def create(model: Any, optimizer: Optimizer, key: jax.Array, input_shape: Sequence[int]) -> TrainState:
    """Initialises a model and its optimizer into a ``TrainState``.

    Args:
        model: a layer (``nn.Sequential([...])``) with ``init(key, input_shape) -> (params, state)``.
        optimizer: an ``Optimizer`` from :mod:`jaxnn.optim`.
        key: PRNG key; ``split(key)[0]`` initialises the params (``model.init``, which draws all of them in one
            random call, see :mod:`jaxnn.nn.init`), ``split(key)[1]`` becomes ``TrainState.key``.
        input_shape: the shape of one example, without the batch axis.

    Example::

        model = nn.Sequential([nn.Dense(100), nn.relu, nn.Dense(10)])
        ts = train.create(model, optim.adam(1e-3), jax.random.key(0), (40,))   # input_shape of one example
    """
    init_key, run_key = jax.random.split(key)
    params, model_state = model.init(init_key, tuple(input_shape))
    return TrainState(params, model_state, optimizer.init(params), jnp.zeros([], jnp.int32), run_key)
