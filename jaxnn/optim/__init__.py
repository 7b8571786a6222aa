"""Optimizers as pure ``(init, update)`` pairs whose hyperparameters live in the state.

Example::

    from jaxnn import optim

    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    grads = {"w": jnp.full(3, 0.5), "b": jnp.ones(())}
    opt = optim.adam(lr=1e-3)
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optim.apply_updates(params, updates)
    optim.hparams(state)["lr"]               # Array(0.001, dtype=float32)
    state = optim.set_hparams(state, lr=3e-4)
"""

from jaxnn.optim.adadelta import AdadeltaState, adadelta
from jaxnn.optim.adagrad import AdagradState, adagrad
from jaxnn.optim.adam import AdamState, adam, adamw, amsgrad
from jaxnn.optim.base import Optimizer, apply_updates, global_norm
from jaxnn.optim.chain import ChainState, chain
from jaxnn.optim.clip import ClipState, clip_by_global_norm
from jaxnn.optim.hyperparams import HParams, Schedule, current_hparams, hparams, set_hparams
from jaxnn.optim.interop import OptaxState, from_optax
from jaxnn.optim.rmsprop import RmspropState, rmsprop
from jaxnn.optim.schedules import (
    constant,
    cosine_decay,
    exponential_decay,
    exponential_ramp,
    inverse_time_decay,
    step_decay,
    warmup,
)
from jaxnn.optim.sgd import SgdState, momentum, nesterov, sgd
from jaxnn.optim.skip import SkipNonfiniteState, skip_nonfinite

__all__ = [
    "AdadeltaState",
    "AdagradState",
    "AdamState",
    "ChainState",
    "ClipState",
    "HParams",
    "OptaxState",
    "Optimizer",
    "RmspropState",
    "Schedule",
    "SgdState",
    "SkipNonfiniteState",
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "amsgrad",
    "apply_updates",
    "chain",
    "clip_by_global_norm",
    "constant",
    "cosine_decay",
    "current_hparams",
    "exponential_decay",
    "exponential_ramp",
    "from_optax",
    "global_norm",
    "hparams",
    "inverse_time_decay",
    "momentum",
    "nesterov",
    "rmsprop",
    "set_hparams",
    "sgd",
    "skip_nonfinite",
    "step_decay",
    "warmup",
]
