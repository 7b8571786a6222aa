"""Learning-rate schedules whose parameters live in the optimizer state.

Each factory returns a :class:`~jaxnn.optim.hyperparams.Schedule`. Pass it as ``lr`` (or any other
hyperparameter) of an optimizer; its parameters become float32 leaves of the state under ``lr.<param>``, so
they can be vmapped over, read back with ``hparams`` and changed with ``set_hparams``.

``t`` is the number of updates already applied: the first update uses the value at ``t = 0``. Schedules in
"epochs" (``step_decay(0.1, 0.5, every=5 * steps_per_epoch)``) are expressed in steps.

Every schedule here is bounded by construction: its values lie between ``lr0`` and its limit (0 for the decays,
``final`` for :func:`cosine_decay` and :func:`exponential_ramp`; a :func:`warmup` ramp stays below the value it
ramps to), and the optimizer
checks both ends of that range against the hyperparameter it sets, so ``sgd(momentum=cosine_decay(0.5, 100,
final=1.5))`` is refused when it is built rather than running with momentum above 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.optim.hyperparams import Schedule
from jaxnn.validation import check_range


def _constant(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
    return p["lr0"] + 0.0 * t


def _step_decay(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
    return p["lr0"] * p["factor"] ** jnp.floor(t / p["every"])


def _exponential_decay(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
    return p["lr0"] * jnp.exp(-p["k"] * t)


def _inverse_time_decay(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
    return p["lr0"] / (1.0 + p["k"] * t)


def _cosine_decay(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
    progress = jnp.minimum(t, p["total_steps"]) / p["total_steps"]
    return p["final"] + (p["lr0"] - p["final"]) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))


def _exponential_ramp(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
    return p["lr0"] * (p["final"] / p["lr0"]) ** (jnp.minimum(t, p["total_steps"]) / p["total_steps"])


def _decay_bounds(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """From ``lr0`` down to 0, reached in the limit unless the decay is switched off (``k = 0``, ``factor = 1``)."""
    still = p.get("k", 0.0) == 0 and p.get("factor", 1.0) == 1
    return (p["lr0"] if still else np.zeros_like(p["lr0"])), p["lr0"]


def _level_bounds(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.minimum(p["lr0"], p["final"]), np.maximum(p["lr0"], p["final"])


def constant(lr0: float) -> Schedule:
    """``lr(t) = lr0``: a schedule that stays put (useful when a sweep mixes schedules).

    Example::

        opt = optim.sgd(optim.constant(0.1))
    """
    return Schedule(_constant, _decay_bounds, lr0=lr0)


def step_decay(lr0: float, factor: float, every: float) -> Schedule:
    """``lr(t) = lr0 · factor^⌊t / every⌋``: "halve every 5 epochs" is ``factor=0.5, every=5 * steps_per_epoch``.

    ``factor <= 1``, so the values decay from ``lr0`` towards 0 and never grow.

    Raises:
        ValueError: if ``lr0 < 0``, ``factor`` is outside ``(0, 1]`` or ``every <= 0``.

    Example::

        opt = optim.sgd(optim.step_decay(0.1, factor=0.5, every=100))
    """
    return Schedule(_step_decay, _decay_bounds, lr0=lr0, factor=factor, every=every)


def exponential_decay(lr0: float, k: float) -> Schedule:
    """``lr(t) = lr0 · exp(−k·t)``.

    Raises:
        ValueError: if ``lr0 < 0`` or ``k < 0``.

    Example::

        opt = optim.sgd(optim.exponential_decay(0.1, k=1e-3))
    """
    return Schedule(_exponential_decay, _decay_bounds, lr0=lr0, k=k)


def inverse_time_decay(lr0: float, k: float) -> Schedule:
    """``lr(t) = lr0 / (1 + k·t)``, the 1/t decay of the textbooks.

    Raises:
        ValueError: if ``lr0 < 0`` or ``k < 0``.

    Example::

        opt = optim.sgd(optim.inverse_time_decay(0.1, k=1e-2))
    """
    return Schedule(_inverse_time_decay, _decay_bounds, lr0=lr0, k=k)


def cosine_decay(lr0: float, total_steps: float, final: float = 0.0) -> Schedule:
    """``lr(t) = final + (lr0 − final) · ½(1 + cos(π · min(t, T)/T))`` with ``T = total_steps``.

    Raises:
        ValueError: if ``lr0 < 0``, ``final < 0`` or ``total_steps <= 0``.

    Example::

        opt = optim.adam(optim.cosine_decay(1e-3, total_steps=1000, final=1e-5))
    """
    return Schedule(_cosine_decay, _level_bounds, lr0=lr0, total_steps=total_steps, final=final)


def exponential_ramp(lr0: float, final: float, total_steps: float) -> Schedule:
    """``lr(t) = lr0 · (final/lr0)^(min(t, T)/T)`` with ``T = total_steps``: geometric steps from ``lr0`` at
    ``t = 0`` to ``final`` at ``t = T``, then ``final``.

    With ``final > lr0`` this is the learning-rate range test's ramp (Smith 2017; :func:`jaxnn.sweep.lr_find`
    uses it with ``T = steps − 1``); with ``final < lr0`` an exponential decay that ends at ``final``. Both ends
    are levels of the schedule, so they are checked against the range of the hyperparameter it sets.

    Raises:
        ValueError: if ``lr0 <= 0``, ``final <= 0`` (a geometric path needs both ends positive) or
            ``total_steps <= 0``.

    Example::

        ramp = optim.exponential_ramp(1e-4, 1.0, total_steps=99)    # 1e-4 at t = 0, 1e-2 at t = 49.5, 1 at t = 99
        opt = optim.sgd(ramp, momentum=0.9)
    """
    for name, value in (("lr0", lr0), ("final", final)):
        check_range(name, value, lambda v: v > 0, "a number > 0 (exponential_ramp interpolates geometrically)")
    return Schedule(_exponential_ramp, _level_bounds, lr0=lr0, final=final, total_steps=total_steps)


def warmup(schedule: Schedule, steps: float) -> Schedule:
    """Linear warm-up in front of ``schedule``.

    ``lr(t) = schedule(0) · min(1, (t + 1)/steps)`` for ``t < steps``, then ``schedule(t − steps)``: the wrapped
    schedule starts its own clock when the warm-up ends. The ramp never passes ``schedule(0)``, also for a
    fractional ``steps`` (with ``steps=0.5`` the first update uses ``schedule(0)``, not twice it). The warm-up
    length is stored as ``warmup_steps``.

    Raises:
        ValueError: if ``steps <= 0`` or ``schedule`` already has a ``warmup_steps`` parameter.
        TypeError: if ``schedule`` is not a Schedule.

    Example::

        opt = optim.adam(optim.warmup(optim.cosine_decay(1e-3, 1000), steps=100))
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"warmup: schedule must be a jaxnn.optim Schedule (e.g. optim.cosine_decay(...)), "
                        f"got {schedule!r}.")
    if "warmup_steps" in schedule.params:
        raise ValueError("warmup: schedule is already warmed up (it has a warmup_steps parameter).")
    inner, inner_bounds = schedule.fn, schedule.bounds

    def _warmup(p: dict[str, jax.Array], t: jax.Array) -> jax.Array:
        n = p["warmup_steps"]
        ramp = inner(p, jnp.zeros_like(t)) * jnp.minimum(1.0, (t + 1.0) / n)
        return jnp.where(t < n, ramp, inner(p, t - n))

    def _warmup_bounds(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        low, high = inner_bounds(p)
        start = np.asarray(inner(p, jnp.zeros([], jnp.float32))) * np.minimum(1.0, 1.0 / p["warmup_steps"])
        return np.minimum(low, start), high

    _warmup.__name__ = f"warmup({inner.__name__})"
    return Schedule(_warmup, _warmup_bounds, **schedule.params, warmup_steps=steps)
