"""``Trial``: what ``build(hp)`` returns, everything one training run of a sweep needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax

from jaxnn import losses
from jaxnn.optim import Optimizer
from jaxnn.train.steps import DEFAULT_METRICS, Metric


class Trial(NamedTuple):
    """One configuration's model, optimizer and loss options, as returned by ``build(hp)``.

    ``build`` runs while the sweep traces its programs: the numeric values in ``hp`` are traced scalars (pass
    them straight to optimizer constructors, ``nn.Dropout`` or ``l2``; don't turn them into Python numbers)
    and the static ones are plain Python values (``hp["optimizer"] == "adam"`` is fine).

    Attributes:
        model: a layer with ``init``/``apply`` (e.g. ``nn.Sequential([...])``).
        optimizer: a :class:`jaxnn.optim.Optimizer`.
        loss: ``loss(outputs, targets) -> scalar``; default softmax cross-entropy.
        l2: the L2 coefficient passed to :func:`jaxnn.train.make_train_step` (may be traced).
        metrics: ``name -> fn(outputs, targets)`` reported for training and evaluation; default accuracy.
        input_shape: one example's shape; default the training inputs' ``x.shape[1:]``.
        grad_norm: also record ``grad_norm``, each epoch's mean global norm of the gradient (a static switch).

    Example::

        def build(hp):
            model = nn.Sequential([nn.Dense(64), nn.relu, nn.Dropout(hp["dropout"]), nn.Dense(10)])
            opt = optim.adam(hp["lr"]) if hp["optimizer"] == "adam" else optim.sgd(hp["lr"])
            return sweep.Trial(model, opt, l2=hp["weight_decay"])
    """

    model: Any
    optimizer: Optimizer
    loss: Callable[[jax.Array, jax.Array], jax.Array] = losses.softmax_cross_entropy
    l2: Any = 0.0
    metrics: Mapping[str, Metric] = DEFAULT_METRICS
    input_shape: Sequence[int] | None = None
    grad_norm: bool = False


def as_trial(value: Any) -> Trial:
    """``value`` (a Trial or a dict of its fields) as a checked Trial; TypeError explaining the contract else."""
    contract = ("build(hp) must return sweep.Trial(model, optimizer, loss=..., l2=..., metrics=..., "
                "input_shape=..., grad_norm=...) or a dict with those keys")
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(Trial._fields))
        if unknown or "model" not in value or "optimizer" not in value:
            raise TypeError(f"{contract}; got a dict with keys {sorted(value)} (needs model and optimizer"
                            f"{', unknown: ' + ', '.join(unknown) if unknown else ''}).")
        value = Trial(**value)
    if not isinstance(value, Trial):
        raise TypeError(f"{contract}; got {type(value).__name__}: {value!r:.200}.")
    if not (callable(getattr(value.model, "init", None)) and callable(getattr(value.model, "apply", None))):
        raise TypeError(f"{contract}; Trial.model is {value.model!r:.200}, which is not a layer with init/apply.")
    if not isinstance(value.optimizer, Optimizer):
        raise TypeError(f"{contract}; Trial.optimizer is {value.optimizer!r:.200}, not a jaxnn.optim.Optimizer.")
    if not isinstance(value.grad_norm, bool):
        raise TypeError(f"{contract}; Trial.grad_norm={value.grad_norm!r} must be a bool (True or False).")
    if not callable(value.loss) or not isinstance(value.metrics, Mapping):
        raise TypeError(f"{contract}; Trial.loss must be callable and Trial.metrics a mapping name -> fn.")
    return value
