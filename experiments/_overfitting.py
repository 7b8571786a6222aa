"""The textbook's overfitting setup on ``train.fit_stack``: runs that differ by one value, from the same weights and
minibatches, with training and test accuracy measured after every epoch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np

from jaxnn import data, nn, optim, train

BATCH_SIZE = 100
EVAL_BATCH_SIZE = 1000


def overfitting(model: nn.Layer, opt: optim.Optimizer, step_for: Callable[[dict[str, jax.Array]], train.TrainStep],
                hp: Mapping[str, Sequence[float]], dataset: data.Dataset, epochs: int, key: jax.Array
                ) -> dict[str, np.ndarray]:
    """One row per value of ``hp``, all created from ``key`` and trained together on the same minibatches.

    Args:
        model: the rows' model, which creates their params and evaluates them (in evaluation mode, so a
            dropout rate that only ``step_for`` sets does not matter there).
        opt: the rows' optimizer.
        step_for: ``hp_row -> train_step``, the step of one row given its values (traced).
        hp: ``name -> one value per row`` (an L2 coefficient, a dropout rate).
        dataset: ``train`` is trained on (batch 100); ``train`` and ``test`` are evaluated after every epoch.
        epochs: epochs to train.
        key: the weights' key and the minibatch order's.

    Returns:
        ``train.fit_stack``'s history: ``loss`` and ``accuracy`` (minibatch means), ``train_loss``,
        ``train_accuracy``, ``test_loss`` and ``test_accuracy``, each ``(rows, epochs)``.
    """
    rows = len(next(iter(hp.values())))
    ts = train.create_stacked(model, [opt] * rows, key, dataset.train.x.shape[1:])
    eval_step = train.make_eval_step(model)
    _, history = train.fit_stack(ts, step_for, dataset.train, epochs, BATCH_SIZE, hp=hp,
                                 eval_sets={"train": dataset.train, "test": dataset.test},
                                 eval_step=lambda hp: eval_step, eval_batch_size=EVAL_BATCH_SIZE, order_key=key,
                                 progress=False)
    return history
