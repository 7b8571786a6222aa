"""Hyperparameters live in the optimizer state, as float32 array leaves.

Keeping them in the state (rather than in Python closures) is what lets one compiled training step serve
every value, lets ``jax.vmap`` train many settings at once, and lets a running job read or change them by
name::

    opt = optim.adam(lr=optim.exponential_decay(1e-3, k=1e-4))
    state = opt.init(params)
    optim.hparams(state)      # {'b1': ..., 'b2': ..., 'eps': ..., 'lr.k': ..., 'lr.lr0': ..., 'weight_decay': ...}
    state = optim.set_hparams(state, b2=0.99)

Names: a plain hyperparameter is stored under its argument name (``lr``); the parameters of a schedule given
for ``lr`` under ``lr.<param>``; inside :func:`~jaxnn.optim.chain` each name is prefixed with the position of
its transformation (``1.lr``). ``set_hparams`` accepts a full name or any unambiguous dotted suffix of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.optim.base import SCHEDULES as _SCHEDULES
from jaxnn.optim.base import broadcast_to_tree, describe_tree
from jaxnn.validation import check_range

PyTree = Any

# One table serves the constructors, the schedules and set_hparams, keyed by the last part of a name. Values are
# judged after the cast to float32, the dtype they are stored in (jaxnn.validation.check_range).
_NONNEGATIVE = (lambda v: v >= 0, "a number >= 0")
_UNIT = (lambda v: (v >= 0) & (v < 1), "a number in [0, 1)")
_POSITIVE = (lambda v: v > 0, "a number > 0")
# A subnormal eps is flushed to zero on CPUs (and most accelerators), so a zero gradient would divide 0 by 0.
_TINY = float(np.finfo(np.float32).tiny)
_EPS = (lambda v: v >= _TINY, f"a number >= {_TINY:.8g} (the smallest normal float32; smaller values are flushed to 0)")
RULES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "lr": _NONNEGATIVE,
    "lr0": _NONNEGATIVE,
    "final": _NONNEGATIVE,
    "k": _NONNEGATIVE,
    "weight_decay": _NONNEGATIVE,
    "initial_accumulator": _NONNEGATIVE,
    "momentum": _UNIT,
    "b1": _UNIT,
    "b2": _UNIT,
    "decay": _UNIT,
    "rho": _UNIT,
    "eps": _EPS,
    "factor": (lambda v: (v > 0) & (v <= 1), "a number in (0, 1] (a decay: the schedule never grows)"),
    "every": _POSITIVE,
    "total_steps": _POSITIVE,
    "warmup_steps": _POSITIVE,
    "max_norm": _POSITIVE,
    # optax's names, for optim.from_optax(optax.inject_hyperparams(...)(...)).
    "learning_rate": _NONNEGATIVE,
    "eps_root": _NONNEGATIVE,
    "initial_accumulator_value": _NONNEGATIVE,
}
# The parameters that every built-in schedule's values lie between (with 0 for the decays): checking them against
# the range of the hyperparameter they schedule bounds the schedule at every step (see Schedule).
LEVELS = ("lr0", "final")
# A name without a rule (a hyperparameter of some optax transformation) must still be a finite number.
_FINITE = (lambda v: np.full(np.shape(v), True), "a finite number")


def validate(name: str, value: Any) -> None:
    """Checks a concrete hyperparameter against the range of its name (the last dotted part) in :data:`RULES`;
    a name without a rule must be finite.

    A schedule's level (``lr.lr0``, ``momentum.final``) must also fit the range of the hyperparameter it
    schedules: ``momentum.lr0=1.5`` is refused as ``momentum=1.5`` would be.

    Raises:
        TypeError: for a non-numeric or bool value.
        ValueError: naming ``name``, ``value`` and the allowed range. Traced values pass unchecked.
    """
    owner, _, last = name.rpartition(".")
    check_range(name, value, *RULES.get(last, _FINITE))
    scheduled = owner.rpartition(".")[2]
    if last in LEVELS and scheduled in RULES:
        ok, allowed = RULES[scheduled]
        check_range(name, value, ok, f"{allowed}, as every value of the schedule it sets for {scheduled}")


def _check_schedule(name: str, schedule: Schedule) -> None:
    """Checks the values a schedule takes over every step ``t >= 0`` against the range of ``name``."""
    bounds = schedule.range()
    if bounds is not None:
        ok, allowed = RULES[name.rsplit(".", 1)[-1]]
        low, high = bounds
        check_range(name, np.array([low, high]), ok, f"{allowed} at every step, but over the steps t >= 0 it "
                    f"takes values from {np.float32(low)!s} to {np.float32(high)!s}", shown=repr(schedule))


class Schedule:
    """A hyperparameter as a pure function of the step, whose numeric parameters live in the optimizer state.

    ``fn(params, step)`` receives the parameters as a dict of float32 arrays and the number of updates already
    applied (0 for the first update) as float32. ``bounds(params)`` returns ``(low, high)``, the smallest and
    largest values ``fn`` takes over all steps ``t >= 0`` (their closure: a decay to 0 has ``low = 0``); an
    optimizer checks both against the range of the hyperparameter the schedule sets, so a schedule is valid at
    every step it can reach, not only at step 0. A schedule is also callable on its own, ``schedule(step)``,
    for plotting.

    Example::

        halve = optim.Schedule(lambda p, t: p["lr0"] * 0.5 ** t, lambda p: (0.0, p["lr0"]), lr0=0.1)
        opt = optim.sgd(halve)
    """

    def __init__(
        self,
        fn: Callable[[dict[str, jax.Array], jax.Array], jax.Array],
        bounds: Callable[[dict[str, np.ndarray]], tuple[Any, Any]],
        **params: Any,
    ):
        for name, value in params.items():
            validate(name, value)
        self.fn = fn
        self.bounds = bounds
        self.params = params

    def __call__(self, step: Any) -> jax.Array:
        params = {name: jnp.asarray(value, jnp.float32) for name, value in self.params.items()}
        return self.fn(params, jnp.asarray(step, jnp.float32))

    def range(self) -> tuple[float, float] | None:
        """``(low, high)`` over all steps for the parameters as stored (float32); None when one is traced."""
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(self.params)):
            return None
        low, high = self.bounds({name: np.asarray(value, np.float32) for name, value in self.params.items()})
        return float(low), float(high)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        return f"Schedule({self.fn.__name__}, {args})"


class HParams:
    """The static half of an optimizer's hyperparameters: validation, and which of them are schedules.

    ``init(params)`` gives the dynamic half, the float32 leaves stored in the state, after checking that every
    per-layer value fits the params; ``resolve(stored, count)`` gives each hyperparameter's value for the current
    step; ``names`` are the keys of the stored dict, which ``update`` checks a state against.
    """

    def __init__(self, **values: Any):
        self.values: dict[str, Any] = {}
        self.schedules: dict[str, Schedule] = {}
        for name, value in values.items():
            if isinstance(value, Schedule):
                _check_schedule(name, value)  # its own parameters were checked; its values must fit too
                self.schedules[name] = value
            else:
                validate(name, value)
                self.values[name] = value
        scheduled = [f"{name}.{key}" for name, schedule in self.schedules.items() for key in schedule.params]
        self.names: tuple[str, ...] = tuple(sorted([*self.values, *scheduled]))

    def init(self, params: PyTree) -> dict[str, PyTree]:
        for name, value in self.values.items():
            check_fits(name, value, params, "the params")
        stored = {name: jax.tree.map(_as_float32, value) for name, value in self.values.items()}
        for name, schedule in self.schedules.items():
            stored.update({f"{name}.{key}": _as_float32(value) for key, value in schedule.params.items()})
        if self.schedules:
            stored[_SCHEDULES] = _ScheduleFns(tuple((name, s.fn, tuple(s.params)) for name, s in
                                                    self.schedules.items()))
        return stored

    def resolve(self, stored: Mapping[str, PyTree], count: jax.Array) -> dict[str, PyTree]:
        resolved = {name: stored[name] for name in self.values}
        for name, schedule in self.schedules.items():
            params = {key: stored[f"{name}.{key}"] for key in schedule.params}
            resolved[name] = schedule.fn(params, jnp.asarray(count, jnp.float32))
        return resolved


class _ScheduleFns:
    """The schedule functions of a state's hyperparameters, kept in the state as a pytree node without leaves.

    A state alone then tells each hyperparameter's current value (:func:`current_hparams`) while its leaves,
    and so checkpoints, vmap and ``set_hparams``, are unchanged. Nodes compare by the functions' qualified
    names, so states of two optimizers built alike (one per sweep trace, one per seed) share one structure.
    """

    def __init__(self, entries: tuple[tuple[str, Callable, tuple[str, ...]], ...]):
        self.entries = entries
        self._key = tuple((name, f"{fn.__module__}.{fn.__qualname__}:{fn.__name__}", params)
                          for name, fn, params in entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ScheduleFns) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:  # in checkpoint headers: no memory addresses, the same on every process
        return f"schedules{self._key!r}"


jax.tree_util.register_pytree_node(_ScheduleFns, lambda node: ((), node), lambda node, _: node)


def current_hparams(state: Any) -> dict[str, jax.Array]:
    """The value every hyperparameter of an optimizer state has at its next update, schedules resolved.

    A schedule ``lr`` is reported as ``lr`` (its value ``fn(params, count)`` for the updates already applied),
    not as its parameters ``lr.lr0``, ``lr.k``; plain hyperparameters as stored. Values follow
    :func:`set_hparams`, and work on stacked states (one value per row). Names are prefixed inside a chain as in
    :func:`hparams`.

    Args:
        state: an optimizer state, e.g. ``TrainState.opt_state``, possibly stacked along leading axes.

    Returns:
        ``name -> float32 array``.

    Example::

        opt = optim.sgd(optim.exponential_decay(0.1, k=0.5))
        state = opt.init(params)
        optim.current_hparams(state)["lr"]   # 0.1 before the first update, 0.1·exp(−0.5) after it
    """
    current = {}
    for prefix, sub, _ in _walk(state):
        schedules = sub.hparams.get(_SCHEDULES)
        entries = schedules.entries if schedules is not None else ()
        scheduled = {f"{name}.{p}" for name, _, params in entries for p in params}
        current.update({prefix + name: value for name, value in sub.hparams.items()
                        if name not in scheduled and name != _SCHEDULES})
        # tuple.count is a method: only a state with a count field has a step counter (ClipState has none).
        count = jnp.asarray(sub.count if "count" in getattr(sub, "_fields", ()) else 0, jnp.float32)
        for name, fn, params in entries:
            current[prefix + name] = fn({p: sub.hparams[f"{name}.{p}"] for p in params}, count)
    return current


def _as_float32(value: Any) -> jax.Array:
    return jnp.asarray(value, jnp.float32)


def check_fits(name: str, value: PyTree, tree: PyTree, tree_name: str) -> None:
    """Raises ``ValueError`` showing both trees unless ``value`` is a tree prefix of ``tree`` that broadcasts to it.

    Every leaf of ``value`` must broadcast to the shape of each leaf of ``tree`` below it, leaving that shape as
    it is. Shapes and structures are static, so this costs nothing per step.
    """
    try:
        spread = broadcast_to_tree(value, tree)
        fits = all(
            np.broadcast_shapes(jnp.shape(v), jnp.shape(t)) == jnp.shape(t)
            for v, t in zip(jax.tree.leaves(spread), jax.tree.leaves(tree))
        )
    except (ValueError, TypeError):  # the structures differ, or shapes do not broadcast at all
        fits = False
    if not fits:
        raise ValueError(
            f"{name}={value!r} does not fit {tree_name}: a per-layer {name} must be a tree prefix of {tree_name} "
            f"(the same keys, down to where it holds one value for a whole subtree), and each of its values must "
            f"broadcast to the shape of every leaf below it.\n  {name}: {value!r}\n  {tree_name}: {describe_tree(tree)}"
        )


def per_leaf(hp: Mapping[str, PyTree], tree: PyTree) -> PyTree:
    """A tree shaped like ``tree`` whose leaves are dicts of the hyperparameter values for that leaf."""
    names = list(hp)
    if not names:
        return jax.tree.map(lambda _: {}, tree)
    spread = [broadcast_to_tree(hp[name], tree) for name in names]
    return jax.tree.map(lambda *values: dict(zip(names, values)), *spread)


def _walk(state: Any, prefix: str = "") -> Iterator[tuple[str, Any, Callable[[Any], Any]]]:
    """Yields ``(prefix, substate, rebuild)`` for every state in ``state`` that holds hyperparameters.

    Composite states name their children ``states`` (a tuple, as in ``chain``: children get an index
    prefix) or ``inner`` (a wrapper such as ``skip_nonfinite``: transparent).
    """
    if hasattr(state, "hparams"):
        yield prefix, state, lambda new: new
    if hasattr(state, "states"):
        for i, child in enumerate(state.states):
            for sub_prefix, sub, rebuild in _walk(child, f"{prefix}{i}."):
                yield sub_prefix, sub, _rebuild_in_tuple(state, i, rebuild)
    if hasattr(state, "inner"):
        for sub_prefix, sub, rebuild in _walk(state.inner, prefix):
            yield sub_prefix, sub, lambda new, rebuild=rebuild: state._replace(inner=rebuild(new))


def _rebuild_in_tuple(state: Any, i: int, rebuild: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def replace(new: Any) -> Any:
        states = list(state.states)
        states[i] = rebuild(new)
        return state._replace(states=tuple(states))

    return replace


def hparams(state: Any) -> dict[str, PyTree]:
    """Returns every hyperparameter in an optimizer state, by name (see the module docstring for names)."""
    return {
        prefix + name: value for prefix, sub, _ in _walk(state) for name, value in sub.hparams.items()
        if name != _SCHEDULES
    }


def set_hparams(state: Any, **values: Any) -> Any:
    """Returns a copy of ``state`` with the named hyperparameters replaced.

    A name is a full name from :func:`hparams` or an unambiguous dotted suffix of one (``lr`` for ``1.lr``).
    New values are validated like constructor arguments (after the cast to float32 they are stored in), and
    broadcast to the stored shape, so a jitted step that takes the state does not recompile. A new level of a
    schedule (``lr.lr0``, ``momentum.final``) must also fit the scheduled hyperparameter's range; since every
    built-in schedule stays between its levels and 0 (``factor <= 1``, ``k >= 0``), that keeps it in range at
    every step for every hyperparameter whose range holds 0 (all but ``eps``, whose schedules are checked over
    all steps only when the optimizer is built).

    Raises:
        TypeError: for a non-numeric or bool value.
        ValueError: for an unknown or ambiguous name (the message lists the valid names), a value out of range,
            or a value that does not fit the stored one's tree and shape (the message shows both).

    Example::

        state = optim.adam(lr=1e-3).init({"w": jnp.ones(3)})
        state = optim.set_hparams(state, lr=1e-4)
        optim.hparams(state)["lr"]               # Array(0.0001, dtype=float32)
    """
    valid = list(hparams(state))
    for name, value in values.items():
        matches = [full for full in valid if full == name or full.endswith("." + name)]
        if name in valid:
            matches = [name]
        if len(matches) != 1:
            problem = "is ambiguous: it matches " + ", ".join(matches) if matches else "is not a hyperparameter"
            raise ValueError(f"set_hparams: {name!r} {problem}. Valid names: {', '.join(sorted(valid))}.")
        validate(matches[0], value)
        state = _set_one(state, matches[0], value)
    return state


def _set_one(state: Any, full_name: str, value: Any) -> Any:
    for prefix, sub, rebuild in _walk(state):
        name = full_name[len(prefix):]
        if full_name.startswith(prefix) and name in sub.hparams:
            old = sub.hparams[name]
            check_fits(full_name, value, old, f"the stored {full_name}")
            new = jax.tree.map(
                lambda o, v: jnp.broadcast_to(jnp.asarray(v, jnp.float32), jnp.shape(o)),
                old,
                broadcast_to_tree(value, old),
            )
            return rebuild(sub._replace(hparams={**sub.hparams, name: new}))
    raise AssertionError(f"{full_name} was listed by hparams() but not found")  # pragma: no cover
