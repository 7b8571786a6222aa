"""Cross-checks against optax where the conventions coincide (same loss, same 25 steps, same float32 params).

Not compared, because the conventions differ: ``adagrad`` (optax puts eps inside the root and starts the
accumulator at 0.1) and ``amsgrad`` (optax takes the maximum over the bias-corrected v̂, jaxnn over the raw v).
"""

import inspect
import math

import optax
import pytest

from jaxnn import optim

from .reference import assert_trees_close, make_params, run

LR, MU, WD = 0.03, 0.8, 0.1
ADAM = {"b1": 0.8, "b2": 0.95, "eps": 1e-6}

CASES = {
    # sgd's velocity v is −lr times optax's trace b ← μb + g, so with a constant lr the paths coincide.
    "sgd": (optim.sgd(LR), optax.sgd(LR)),
    "momentum": (optim.momentum(LR, MU), optax.sgd(LR, momentum=MU)),
    # optax's Nesterov step −lr·(g + μ·b') equals −μv + (1 + μ)v' with v = −lr·b.
    "nesterov": (optim.nesterov(LR, MU), optax.sgd(LR, momentum=MU, nesterov=True)),
    # Coupled decay is optax's add_decayed_weights (g + wd·p) in front of the optimizer.
    "sgd-momentum-decay": (
        optim.sgd(LR, MU, weight_decay=WD),
        optax.chain(optax.add_decayed_weights(WD), optax.sgd(LR, momentum=MU)),
    ),
    "adam": (optim.adam(LR, **ADAM), optax.adam(LR, **ADAM)),  # optax's eps_root=0: eps outside the root
    "adam-decay": (
        optim.adam(LR, weight_decay=WD, **ADAM),
        optax.chain(optax.add_decayed_weights(WD), optax.adam(LR, **ADAM)),
    ),
    # optax.adamw scales the decay by lr, as jaxnn does; its default wd (1e-4) differs, so it is passed.
    "adamw": (optim.adamw(LR, weight_decay=WD, **ADAM), optax.adamw(LR, weight_decay=WD, **ADAM)),
    # optax.adadelta: eps inside both roots and coupled decay, like jaxnn; its default rho (0.9) differs.
    "adadelta": (
        optim.adadelta(0.5, rho=0.9, eps=1e-4, weight_decay=WD),
        optax.adadelta(0.5, rho=0.9, eps=1e-4, weight_decay=WD),
    ),
    # Schedules: optax counts updates from 0 too; exp(−k·t) is decay_rate^t with decay_rate = exp(−k).
    "adam-exponential_decay": (
        optim.adam(optim.exponential_decay(LR, 0.1)),
        optax.adam(optax.exponential_decay(LR, 1, math.exp(-0.1))),
    ),
    # final = alpha·lr0 in optax's cosine_decay_schedule.
    "adam-cosine_decay": (
        optim.adam(optim.cosine_decay(LR, 20, final=0.003)),
        optax.adam(optax.cosine_decay_schedule(LR, 20, alpha=0.1)),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_matches_optax(name):
    ours, theirs = CASES[name]
    params = make_params()
    assert_trees_close(run(ours, params)[0], run(theirs, params)[0])


@pytest.mark.skipif(
    "eps_in_sqrt" not in inspect.signature(optax.rmsprop).parameters,
    reason="this optax's rmsprop always puts eps inside the root",
)
def test_rmsprop_matches_optax_with_eps_outside_the_root():
    params = make_params()
    ours = optim.rmsprop(LR, decay=0.8, eps=1e-3)
    theirs = optax.rmsprop(LR, decay=0.8, eps=1e-3, eps_in_sqrt=False)  # initial_scale=0, no momentum or centring
    assert_trees_close(run(ours, params)[0], run(theirs, params)[0])
