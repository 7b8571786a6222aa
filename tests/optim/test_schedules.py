"""Schedules against their NumPy formulas, at t = number of updates already applied (0 for the first update)."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import optim

from . import reference
from .reference import assert_trees_close, make_params, run, run_reference

# atol: float32 cos(π·t/T) near t = T leaves ~1e-8 absolute error on 1 + cos.
T = np.arange(40)
CASES = [
    ("constant", (0.3,)),
    ("step_decay", (0.5, 0.5, 7)),
    ("step_decay", (0.2, 0.1, 3.5)),  # a non-integer period: lr drops after t = 3.5, 7, ...
    ("exponential_decay", (0.5, 0.1)),
    ("inverse_time_decay", (0.5, 0.25)),
    ("cosine_decay", (0.5, 30)),
    ("cosine_decay", (0.5, 30, 0.1)),  # held at `final` after total_steps
    ("exponential_ramp", (1e-3, 1.0, 30)),  # lr_find's ramp, held at `final` after total_steps
    ("exponential_ramp", (0.5, 0.01, 12.5)),  # a geometric decay to `final`
]


def _reference(name, args):
    return (lambda t: args[0]) if name == "constant" else getattr(reference, name)(*args)


@pytest.mark.parametrize("name, args", CASES)
def test_schedule_matches_formula(name, args):
    schedule = getattr(optim, name)(*args)
    expected = [_reference(name, args)(t) for t in T]
    np.testing.assert_allclose(schedule(jnp.asarray(T)), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("steps", [1, 5, 2.5])
def test_warmup_follows_its_docstring(steps):
    """lr(t) = schedule(0)·(t + 1)/steps for t < steps, then schedule(t − steps)."""
    schedule = optim.warmup(optim.exponential_decay(0.5, 0.1), steps)
    expected = [reference.warmup(reference.exponential_decay(0.5, 0.1), steps)(t) for t in T]
    np.testing.assert_allclose(schedule(jnp.asarray(T)), expected, rtol=1e-6, atol=1e-7)


def test_first_update_uses_t0():
    """With a gradient of 1, plain SGD's k-th update (k from 0) is exactly −lr(k)."""
    opt = optim.sgd(optim.step_decay(1.0, 0.5, 1))
    params = jnp.zeros(3)
    state = opt.init(params)
    for k in range(4):
        updates, state = opt.update(jnp.ones(3), state)
        np.testing.assert_allclose(updates, -(0.5**k))


@pytest.mark.parametrize("name, args", CASES[1:])
def test_adam_with_schedule_matches_reference(name, args):
    params = make_params()
    actual, _ = run(optim.adam(getattr(optim, name)(*args), weight_decay=0.1), params)
    assert_trees_close(actual, run_reference(reference.adam(_reference(name, args), weight_decay=0.1), params))


def test_warmed_up_schedule_in_an_optimizer_matches_reference():
    params = make_params()
    actual, _ = run(optim.rmsprop(optim.warmup(optim.cosine_decay(0.01, 20, 0.001), 5)), params)
    lr = reference.warmup(reference.cosine_decay(0.01, 20, 0.001), 5)
    assert_trees_close(actual, run_reference(reference.rmsprop(lr), params))


@pytest.mark.parametrize("steps", [0.5, 2.5, 3])
def test_warmup_never_passes_the_value_it_ramps_to(steps):
    """warmup(..., 0.5) used to start at 2× the base lr (and 2.5 reached 1.2× at t = 2)."""
    values = np.asarray(optim.warmup(optim.constant(0.1), steps)(jnp.arange(6)))
    expected = [0.1 * min(1.0, (t + 1) / steps) for t in range(6)]
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    assert values.max() <= np.float32(0.1)


@pytest.mark.parametrize(
    "make, message",
    [
        # momentum 0.5, 1.5, 4.5, ... : refused by its factor, so every step decays
        (lambda: optim.sgd(momentum=optim.step_decay(0.5, 3, 1)), r"factor=3 is not allowed: factor must be a number "
                                                                  r"in \(0, 1\]"),
        (lambda: optim.sgd(momentum=optim.cosine_decay(0.5, 100, final=1.5)), r"momentum=Schedule\(_cosine_decay, "
         r"lr0=0\.5, total_steps=100, final=1\.5\) is not allowed: momentum must be a number in \[0, 1\) at every "
         r"step, but over the steps t >= 0 it takes values from 0\.5 to 1\.5"),
        (lambda: optim.adam(eps=optim.exponential_decay(1e-8, 0.1)), r"eps=Schedule\(_exponential_decay.* from 0\.0 to "
                                                                     r"1e-08"),
        (lambda: optim.rmsprop(decay=optim.warmup(optim.constant(1.0), 10)), r"decay=Schedule\(warmup\(_constant\).* "
                                                                             r"from 0\.1 to 1\.0"),
        (lambda: optim.sgd(momentum=optim.exponential_ramp(0.5, 1.5, 10)), r"momentum=Schedule\(_exponential_ramp.* "
                                                                           r"from 0\.5 to 1\.5"),
        (lambda: optim.exponential_ramp(0.0, 1.0, 10), r"lr0=0\.0 is not allowed: lr0 must be a number > 0"),
        (lambda: optim.exponential_ramp(1e-3, -1.0, 10), r"final=-1\.0 is not allowed: final must be a number > 0"),
        (lambda: optim.exponential_ramp(1e-3, 1.0, 0), r"total_steps=0 is not allowed"),
    ],
)
def test_a_schedule_is_checked_at_every_step_it_can_reach(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedules_within_range_at_every_step_are_accepted():
    opt = optim.sgd(0.1, momentum=optim.cosine_decay(0.5, 100, final=0.9))
    names = optim.hparams(opt.init(make_params()))
    assert float(names["momentum.final"]) == pytest.approx(0.9)
    optim.adam(eps=optim.warmup(optim.cosine_decay(1e-8, 10, final=1e-9), 5))  # never below 1e-9 / 5
