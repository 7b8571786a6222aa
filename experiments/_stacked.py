"""Many runs trained together: stacked ``TrainState`` s and one vmapped, compiled epoch for all of them.

The experiments' one trainer of stacked runs, until ``jaxnn.train`` has its own (then this module goes).
:func:`train_stacked` trains rows that differ by their state (init key, optimizer hyperparameters, which live
in the state) and by a traced value the model or loss is built from (a dropout rate, a BatchNorm momentum, an
L2 coefficient); :func:`loss_curves` trains static choices that cannot share a state structure (different
optimizers or initialisers) in one program and keeps every step's loss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import losses, nn, optim, train

Make = Callable[[Any], tuple[nn.Layer, optim.Optimizer, Any]]
"""``make(value) -> (model, optimizer, l2)`` of one row; ``value`` is the row's traced value, or None."""


class Eval(NamedTuple):
    """One evaluation set of :func:`train_stacked`, evaluated after every epoch.

    Attributes:
        data: ``(x, y)``.
        batch_size: evaluation batch; None evaluates the whole set as one batch.
        make_step: ``make_step(model) -> eval_step``; default ``train.make_eval_step`` (evaluation mode).
    """

    data: train.Batch
    batch_size: int | None = None
    make_step: Callable[[nn.Layer], train.EvalStep] = train.make_eval_step


def stack(trees: Sequence[Any]) -> Any:
    """Stacks equally shaped pytrees (e.g. ``TrainState`` s) on a new leading axis, one row per tree."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def init_stacked(make: Make, values: Any, key: jax.Array, input_shape: Sequence[int]) -> train.TrainState:
    """One row per entry of ``values``, every row created from the same ``key`` (only the value differs)."""

    def init(value: jax.Array) -> train.TrainState:
        model, opt, _ = make(value)
        return train.create(model, opt, key, input_shape)

    return jax.jit(jax.vmap(init))(jnp.asarray(values, jnp.float32))


def train_stacked(
    make: Make,
    states: train.TrainState,
    train_data: train.Batch,
    epochs: int,
    batch_size: int,
    *,
    key: jax.Array | int,
    values: Any = None,
    evals: Mapping[str, Eval] | None = None,
    record: Callable[[train.TrainState], dict[str, jax.Array]] | None = None,
) -> tuple[train.TrainState, dict[str, np.ndarray]]:
    """Trains the rows of ``states`` together, one vmapped step inside each epoch's compiled ``lax.scan``.

    Every row sees the same minibatches (a fresh permutation each epoch, the last partial batch dropped), so
    rows differ only by their state and their value.

    Args:
        make: ``make(value) -> (model, optimizer, l2)`` for one row (:data:`Make`); with ``values=None`` it gets
            None and builds the same model for every row (``lambda _: (model, opt, 0.0)``).
        states: stacked ``TrainState`` s, one row per run (:func:`stack`, :func:`init_stacked`).
        train_data: ``(x, y)``.
        epochs: epochs to train.
        batch_size: minibatch size.
        key: key (or int seed) of the minibatch order.
        values: one float per row, passed (traced) to ``make``; None when rows differ by their states alone.
        evals: ``name -> Eval`` evaluated after every epoch.
        record: ``record(states) -> {name: (rows,) array}``, further per-epoch values (e.g. a learning rate).

    Returns:
        The final states and ``{name: (rows, epochs) array}``: ``loss`` and ``accuracy`` (means over the epoch's
        training steps), ``<eval>_loss`` and ``<eval>_accuracy`` for every eval set, and what ``record`` returns.
    """
    values = None if values is None else jnp.asarray(values, jnp.float32)
    x, y = jnp.asarray(train_data[0]), jnp.asarray(train_data[1])
    order = jax.random.key(key) if isinstance(key, int) else key

    def step(ts: train.TrainState, batch: train.Batch) -> tuple[train.TrainState, dict[str, jax.Array]]:
        def one(ts: train.TrainState, value: Any) -> tuple[train.TrainState, dict[str, jax.Array]]:
            model, opt, l2 = make(value)
            return train.make_train_step(model, opt, l2=l2)(ts, batch)

        return jax.vmap(one)(ts, values)

    evaluations = {name: (_vmapped_eval(make, values, ev.make_step), _eval_batches(ev))
                   for name, ev in (evals or {}).items()}
    history: dict[str, list[np.ndarray]] = {}
    for epoch in range(epochs):
        batches, _ = train.epoch_batches(order, epoch, x.shape[0], batch_size)
        states, metrics = train.scan_epoch(step)(states, x, y, batches)
        metrics = train.mean_metrics(metrics)
        for name, (eval_step, (full, rest)) in evaluations.items():
            metrics |= {f"{name}_{k}": v for k, v in train.evaluate_batches(states, eval_step, full, rest).items()}
        metrics |= record(states) if record is not None else {}
        for name, value in metrics.items():
            history.setdefault(name, []).append(np.asarray(value))
    return states, {name: np.stack(columns, axis=1) for name, columns in history.items()}


def _vmapped_eval(make: Make, values: Any, make_step: Callable[[nn.Layer], train.EvalStep]) -> train.EvalStep:
    def eval_step(ts: train.TrainState, batch: train.Batch) -> dict[str, jax.Array]:
        return jax.vmap(lambda ts, value: make_step(make(value)[0])(ts, batch))(ts, values)

    return eval_step


def _eval_batches(ev: Eval) -> tuple[train.Batch, train.Batch]:
    x, y = jnp.asarray(ev.data[0]), jnp.asarray(ev.data[1])
    return train.split_batches((x, y), ev.batch_size or x.shape[0])


def loss_curves(setups: Mapping[str, tuple[nn.Layer, optim.Optimizer]], x: np.ndarray, y: np.ndarray,
                iterations: int, batch_size: int, key: jax.Array) -> dict[str, np.ndarray]:
    """Trains each ``(model, optimizer)`` for ``iterations`` steps in one compiled program; per-step losses.

    Every setup starts from the same key and sees the same minibatches (drawn at random each step, as the
    textbook's ``np.random.choice``), so the curves differ only by the setup. The models must be
    deterministic (no dropout).
    """
    init_key, batch_key = jax.random.split(key)
    batches = jax.random.randint(batch_key, (iterations, batch_size), 0, x.shape[0])

    @jax.jit
    def run(x: jax.Array, y: jax.Array, batches: jax.Array) -> dict[str, jax.Array]:
        curves = {}
        for name, (model, opt) in setups.items():
            params, state = model.init(init_key, x.shape[1:])

            def step(carry: tuple, idx: jax.Array, model: nn.Layer = model, opt: optim.Optimizer = opt):
                params, state, opt_state = carry

                def objective(p: Any) -> tuple[jax.Array, Any]:
                    logits, new_state = model.apply(p, state, x[idx], train=True)
                    return losses.softmax_cross_entropy(logits, y[idx]), new_state

                (loss, state), grads = jax.value_and_grad(objective, has_aux=True)(params)
                updates, opt_state = opt.update(grads, opt_state, params)
                return (optim.apply_updates(params, updates), state, opt_state), loss

            _, curves[name] = jax.lax.scan(step, (params, state, opt.init(params)), batches)
        return curves

    curves = run(jnp.asarray(x), jnp.asarray(y), batches)
    return {name: np.asarray(curves[name]) for name in setups}  # jit returns dicts sorted by key


def overfitting(make: Make, values: Sequence[float], dataset: Any, epochs: int, key: jax.Array,
                batch_size: int = 100) -> dict[str, np.ndarray]:
    """The textbook's overfitting setup: one run per value from the same weights, trained together, with
    per-epoch ``train_accuracy`` (on the training set, evaluation mode) and ``test_accuracy`` (and losses),
    each ``(len(values), epochs)``."""
    states = init_stacked(make, values, key, dataset.train.x.shape[1:])
    evals = {"train": Eval(dataset.train, 1000), "test": Eval(dataset.test, 1000)}
    return train_stacked(make, states, dataset.train, epochs, batch_size, key=key, values=values, evals=evals)[1]
