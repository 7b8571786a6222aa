"""What the textbook MLP experiments share: data options, the ReLU MLP, and training that records curves.

The *Deep Learning from Scratch* chapter 6 experiments train ``MultiLayerNet``: ReLU MLPs of 100-unit layers
on MNIST (784 inputs). Here the input width comes from the data: 40 on MNIST-1D (the default, generated
locally), 784 on MNIST (``--dataset mnist --data-dir DIR``). :func:`loss_curves` trains static choices
(optimizers, initialisers) in one program and keeps every step's loss; :func:`train_together` vmaps over a
traced hyperparameter and evaluates every epoch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxnn import data, losses, nn, optim, train

DATA_OPTIONS: dict[str, dict[str, Any]] = {
    "dataset": {"choices": ["mnist1d", "mnist", "fashion_mnist"], "default": "mnist1d",
                "help": "mnist1d (default, generated locally) or an IDX data set in --data-dir"},
    "data_dir": {"type": Path, "default": None, "help": "folder with the IDX files (mnist, fashion_mnist)"},
    "seed": {"type": int, "default": 0, "help": "PRNG seed (0)"},
}
"""``parse_args`` options every MLP experiment takes: ``--dataset``, ``--data-dir`` and ``--seed``."""
BN_EPS = 1e-6  # the textbook's BatchNormalization eps (10e-7)


def load(args: argparse.Namespace, train_size: int | None = None) -> data.Dataset:
    """The data set named by ``args``, its training split cut to the first ``train_size`` examples if given.

    Raises:
        ValueError: if ``train_size`` is not in [1, the number of training examples].
    """
    dataset = data.load(args.dataset, args.data_dir) if args.data_dir else data.load(args.dataset)
    if train_size is None:
        return dataset
    n = dataset.train.x.shape[0]
    if not 1 <= train_size <= n:
        raise ValueError(f"train_size={train_size!r} is not allowed: it must be in [1, {n}] ({args.dataset} "
                         f"has {n} training examples).")
    return dataset._replace(train=data.Split(dataset.train.x[:train_size], dataset.train.y[:train_size]))


def mlp(depth: int, classes: int, w_init: nn.init.Initializer, *, batch_norm: bool = False, bn_momentum: Any = 0.9,
        dropout: Any = None, hidden: int = 100) -> nn.Layer:
    """``depth`` hidden Dense(``hidden``) + ReLU layers and a Dense(``classes``) output, all with ``w_init``.

    Each hidden layer is Dense → [BatchNorm] → ReLU → [Dropout(dropout)], the order of ``MultiLayerNet``.
    ``bn_momentum`` and ``dropout`` may be traced (a vmapped sweep over them). BatchNorm uses the textbook's
    eps, 1e-6: with the default 1e-5, weights of std 1e-4 give pre-BN variances (~1e-8 · 100 · E[h²]) far below
    eps, so BN would scale the signal down at every layer instead of normalising it.
    """
    layers: list[Any] = []
    for _ in range(depth):
        layers += [nn.Dense(hidden, w_init=w_init)]
        layers += [nn.BatchNorm(bn_momentum, eps=BN_EPS)] if batch_norm else []
        layers += [nn.relu] + ([nn.Dropout(dropout)] if dropout is not None else [])
    return nn.Sequential([*layers, nn.Dense(classes, w_init=w_init)])


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


def train_together(
    make: Callable[[jax.Array], tuple[nn.Layer, optim.Optimizer, Any]],
    values: Any,
    train_data: train.Batch,
    epochs: int,
    batch_size: int,
    key: jax.Array,
    evals: Mapping[str, tuple[Callable[[nn.Layer], train.EvalStep], train.Batch, int]],
) -> dict[str, np.ndarray]:
    """Trains one run per value in ``values`` together (one vmapped program) and evaluates them every epoch.

    ``sweep.run`` evaluates one split in evaluation mode; these experiments need several evaluations per
    epoch (training accuracy in evaluation mode, as the textbook plots it, or BN with batch statistics).

    Args:
        make: ``make(value) -> (model, optimizer, l2)``; ``value`` is a traced float32 scalar.
        values: the hyperparameter values, one run each.
        train_data: ``(x, y)``; every epoch is a fresh permutation in full minibatches, the same for all runs.
        epochs: epochs to train.
        batch_size: minibatch size.
        key: every run starts from the same weights and draws the same dropout masks (only the value differs).
        evals: ``name -> (make_eval_step(model), (x, y), batch_size)`` run after every epoch.

    Returns:
        ``"<name>_<metric>" -> (len(values), epochs)`` arrays, e.g. ``"test_accuracy"``.
    """
    values = jnp.asarray(values, jnp.float32)
    x, y = jnp.asarray(train_data[0]), jnp.asarray(train_data[1])

    def init(value: jax.Array) -> train.TrainState:
        model, opt, _ = make(value)
        return train.create(model, opt, key, x.shape[1:])

    def step(ts: train.TrainState, batch: train.Batch) -> tuple[train.TrainState, dict[str, jax.Array]]:
        def one(ts: train.TrainState, value: jax.Array) -> tuple[train.TrainState, dict[str, jax.Array]]:
            model, opt, l2 = make(value)
            return train.make_train_step(model, opt, l2=l2)(ts, batch)

        return jax.vmap(one)(ts, values)

    def vmapped_eval(make_eval: Callable[[nn.Layer], train.EvalStep]) -> train.EvalStep:
        def eval_step(ts: train.TrainState, batch: train.Batch) -> dict[str, jax.Array]:
            return jax.vmap(lambda ts, value: make_eval(make(value)[0])(ts, batch))(ts, values)

        return eval_step

    evaluations = {name: (vmapped_eval(make_eval), train.split_batches((jnp.asarray(ex), jnp.asarray(ey)), size))
                   for name, (make_eval, (ex, ey), size) in evals.items()}
    ts = jax.jit(jax.vmap(init))(values)
    history: dict[str, list[np.ndarray]] = {}
    for epoch in range(epochs):
        batches, _ = train.epoch_batches(key, epoch, x.shape[0], batch_size)
        ts, _ = train.scan_epoch(step)(ts, x, y, batches)
        for name, (eval_step, (full, rest)) in evaluations.items():
            for metric, value in train.evaluate_batches(ts, eval_step, full, rest).items():
                history.setdefault(f"{name}_{metric}", []).append(np.asarray(value))
    return {name: np.stack(columns, axis=1) for name, columns in history.items()}


def make_batch_stats_eval(model: nn.Layer) -> train.EvalStep:
    """Like ``train.make_eval_step`` but BN normalises with the statistics of the batch being evaluated, as in
    training (the model must have no dropout: no key is passed)."""

    def eval_step(ts: train.TrainState, batch: train.Batch) -> dict[str, jax.Array]:
        x, y = batch
        outputs, _ = model.apply(ts.params, ts.model_state, x, train=True)
        return {"loss": losses.softmax_cross_entropy(outputs, y), "accuracy": losses.accuracy(outputs, y)}

    return eval_step


def smooth(curve: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` steps (shorter at the start), the same length as ``curve``."""
    csum = np.cumsum(np.insert(np.asarray(curve, np.float64), 0, 0.0))
    ends = np.arange(1, len(curve) + 1)
    starts = np.maximum(ends - window, 0)
    return (csum[ends] - csum[starts]) / (ends - starts)


def describe(args: argparse.Namespace, dataset: data.Dataset) -> dict[str, Any]:
    """The data settings every summary records."""
    return {"dataset": args.dataset, "input_width": int(np.prod(dataset.train.x.shape[1:])),
            "train_examples": int(dataset.train.x.shape[0]), "test_examples": int(dataset.test.x.shape[0]),
            "seed": args.seed}


def overfitting(
    make: Callable[[jax.Array], tuple[nn.Layer, optim.Optimizer, Any]],
    values: list[float],
    dataset: data.Dataset,
    epochs: int,
    key: jax.Array,
    batch_size: int = 100,
) -> dict[str, np.ndarray]:
    """The textbook's overfitting setup: each value's run trained together, with per-epoch ``train_accuracy``
    (on the training set, evaluation mode) and ``test_accuracy``, each ``(len(values), epochs)``."""
    evals = {"train": (train.make_eval_step, dataset.train, 1000), "test": (train.make_eval_step, dataset.test, 1000)}
    return train_together(make, values, dataset.train, epochs, batch_size, key, evals)


def plot_train_test(history: Mapping[str, np.ndarray], labels: list[str], title: str, path: Path) -> None:
    """One panel per run: training and test accuracy per epoch, the gap between them shaded."""
    fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4), sharey=True, squeeze=False)
    epochs = np.arange(1, history["train_accuracy"].shape[1] + 1)
    for i, (ax, label) in enumerate(zip(axes[0], labels)):
        train_acc, test_acc = history["train_accuracy"][i], history["test_accuracy"][i]
        ax.plot(epochs, train_acc, label="train")
        ax.plot(epochs, test_acc, label="test")
        ax.fill_between(epochs, test_acc, train_acc, color="0.85")
        ax.set(xlabel="epoch", title=f"{label}: final gap {train_acc[-1] - test_acc[-1]:.2f}", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
