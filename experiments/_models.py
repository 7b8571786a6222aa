"""Model builders several experiments share: the MNIST-1D baseline MLP, its regularised variant, and the
textbook's ``MultiLayerNet``, plus evaluation with batch statistics for the BatchNorm experiments."""

from __future__ import annotations

from typing import Any

import jax

from jaxnn import losses, nn, train

BN_EPS = 1e-6  # the textbook's BatchNormalization eps (10e-7)


def mnist1d_mlp(hidden: int = 100, classes: int = 10) -> nn.Layer:
    """The MNIST-1D paper's MLP baseline: two hidden ReLU layers with He initialisation, a default-init output."""
    he = nn.init.he_normal()
    return nn.Sequential([nn.Dense(hidden, w_init=he), nn.relu, nn.Dense(hidden, w_init=he), nn.relu,
                          nn.Dense(classes)])


def regularised_mlp(classes: int, dropout: Any = 0.2, hidden: int = 100) -> nn.Layer:
    """:func:`mnist1d_mlp` with BatchNorm before and dropout after each hidden ReLU (``dropout`` may be traced)."""
    he = nn.init.he_normal()
    block = [nn.Dense(hidden, w_init=he), nn.BatchNorm(), nn.relu, nn.Dropout(dropout)]
    return nn.Sequential([*block, *block, nn.Dense(classes)])


def mlp(depth: int, classes: int, w_init: nn.init.Initializer, *, batch_norm: bool = False, bn_momentum: Any = 0.9,
        dropout: Any = None, hidden: int = 100) -> nn.Layer:
    """The textbook's ``MultiLayerNet``: ``depth`` hidden Dense(``hidden``) + ReLU layers and a Dense(``classes``)
    output, all with ``w_init``.

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


def make_batch_stats_eval(model: nn.Layer, group: int | None = None) -> train.EvalStep:
    """Like ``train.make_eval_step`` but BN normalises with the statistics of the examples being evaluated, as in
    training: of each consecutive ``group`` examples of the batch, or of the whole batch when ``group`` is None
    (the model must have no dropout: no key is passed).

    Groups let several batch-statistics evaluations share one evaluation batch size (``fit_stack`` has one for
    all its sets).

    Raises:
        ValueError: at trace time, if the evaluation batch is not a multiple of ``group``.
    """

    def eval_step(ts: train.TrainState, batch: train.Batch) -> dict[str, jax.Array]:
        x, y = batch
        size = x.shape[0] if group is None else group
        if x.shape[0] % size:
            raise ValueError(f"make_batch_stats_eval: group={group} does not divide the evaluation batch of "
                             f"{x.shape[0]}; pass an eval_batch_size that is a multiple of it.")

        def apply(x: jax.Array) -> jax.Array:
            return model.apply(ts.params, ts.model_state, x, train=True)[0]

        outputs = jax.vmap(apply)(x.reshape(-1, size, *x.shape[1:])).reshape(x.shape[0], -1)
        return {"loss": losses.softmax_cross_entropy(outputs, y), "accuracy": losses.accuracy(outputs, y)}

    return eval_step
