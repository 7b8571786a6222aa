"""Per-step training-loss curves of setups that cannot share one state structure (other optimizers or
initialisers), each trained by the library's compiled epoch over all its steps."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import nn, optim, train


def loss_curves(setups: Mapping[str, tuple[nn.Layer, optim.Optimizer]], data: train.Batch, iterations: int,
                batch_size: int, key: jax.Array) -> dict[str, np.ndarray]:
    """Trains each ``(model, optimizer)`` for ``iterations`` steps; the loss of every step.

    Every setup starts from ``train.create(model, opt, key, input_shape)`` (the same weights when the models
    draw them alike) and sees the same minibatches, drawn at random each step as the textbook's ``np.random.choice``
    does, so the curves differ only by the setup. One setup is one ``train.scan_epoch`` of
    ``train.make_train_step`` over all the steps, which keeps each step's loss.

    Args:
        setups: ``name -> (model, optimizer)``; the models must be deterministic (no dropout).
        data: ``(x, y)`` training arrays.
        iterations: training steps per setup.
        batch_size: examples per step, drawn with replacement.
        key: the key of the weights and of the minibatches.

    Returns:
        ``name -> (iterations,)`` losses, in the order of ``setups``.
    """
    x, y = jnp.asarray(data[0]), jnp.asarray(data[1])
    # create draws the weights from split(key)[0]; the minibatches come from the other half.
    batches = jax.random.randint(jax.random.split(key)[1], (iterations, batch_size), 0, x.shape[0])
    curves = {}
    for name, (model, opt) in setups.items():
        ts = train.create(model, opt, key, x.shape[1:])
        _, metrics = train.scan_epoch(train.make_train_step(model, opt))(ts, x, y, batches)
        curves[name] = np.asarray(metrics["loss"])
    return curves
