"""One group's program: init, and the step and eval-step builders the stacked trainer calls per row.

Every config of a group (the same static values) is one row of stacked :class:`jaxnn.train.Rows`, whose ``hp``
holds the row's traced values; :func:`jaxnn.train.run_rows` vmaps ``step_for(hp)`` over the rows and guards it
against divergence, so each row has its own params, BatchNorm state, optimizer state (holding its
hyperparameters) and PRNG key. :func:`cached_program` keeps programs (and so their compilations) across sweeps
that share a build.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import train
from jaxnn.sweep.trial import Trial, as_trial

Row = train.Rows
"""What a sweep carries per config: ``train.Rows`` (its TrainState, traced ``hp``, ``diverged_at``)."""


def row_key(root: jax.Array, config: Any, seed: Any) -> jax.Array:
    """The key config ``config``, seed ``seed`` of a sweep with root key ``root`` is created from."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.split(root)[1], config), seed)


def shared_order_key(root: jax.Array) -> jax.Array:
    """The key whose minibatch order every config of a sweep with root key ``root`` walks (``shared_order``)."""
    return jax.random.split(root)[0]


class Hyperparameters(dict):
    """The ``hp`` dict passed to ``build``: a missing name raises a KeyError listing the sweep's fields."""

    def __missing__(self, name: Any) -> Any:
        # A bare KeyError('learnin_rate') raised deep in tracing does not say that the field is not in the sweep.
        raise KeyError(f"build(hp) read hp[{name!r}], which is not a field of this sweep; its fields are "
                       f"{sorted(self)}. Add it to the Space/grid or use hp.get({name!r}, default).")


class Program:
    """The compiled pieces for one static group; built once and reused by every chunk, so chunks share one
    compilation per function.

    Args:
        build: the user's ``build(hp) -> Trial``.
        names: all field names in order (``build`` receives them in this order).
        static: the group's static field values.
        input_shape: one example's shape, used when the Trial does not give one.
    """

    def __init__(self, build: Callable[[dict], Any], names: Sequence[str], static: Mapping[str, Any],
                 input_shape: tuple[int, ...]):
        self.build, self.names, self.static = build, list(names), dict(static)
        self.input_shape = input_shape
        self.init = jax.jit(self.init_and_order)

    def trial(self, hp: Mapping[str, jax.Array]) -> Trial:
        """``build`` called on one row's traced values and the group's static ones, checked."""
        return as_trial(self.build(Hyperparameters(
            {name: hp[name] if name in hp else self.static[name] for name in self.names})))

    def init_one(self, hp: dict[str, jax.Array], key: jax.Array) -> Row:
        """One row as ``train.create`` makes it from ``key`` (so a single run outside the sweep can equal it)."""
        t = self.trial(hp)
        ts = train.create(t.model, t.optimizer, key, t.input_shape or self.input_shape)
        return Row(ts, hp, jnp.int32(-1), jnp.bool_(False))

    def init_rows(self, hp: dict[str, jax.Array], root: jax.Array, configs: jax.Array, seeds: jax.Array) -> Row:
        """Stacked rows from stacked ``hp``, config indices and seeds, with keys :func:`row_key` of ``root``;
        each row's result depends on its own inputs only.

        One program (:attr:`init` jits this) derives the keys and initialises every row; init runs once per
        chunk, so a sequential ``lax.map`` costs little here.
        """
        return jax.lax.map(lambda args: self.init_one(args[0], row_key(root, *args[1:])), (hp, configs, seeds))

    def init_and_order(self, hp: dict[str, jax.Array], root: jax.Array, configs: jax.Array, seeds: jax.Array
                       ) -> tuple[Row, jax.Array]:
        """:meth:`init_rows` and :func:`shared_order_key` of ``root``, which :attr:`init` compiles as one
        program: a sweep's first call compiles no program of its own for its keys."""
        return self.init_rows(hp, root, configs, seeds), shared_order_key(root)

    def step_for(self, hp: Mapping[str, jax.Array]) -> train.TrainStep:
        """The train step of the row with traced values ``hp``."""
        t = self.trial(hp)
        return train.make_train_step(t.model, t.optimizer, loss=t.loss, l2=t.l2, metrics=t.metrics,
                                     grad_norm=t.grad_norm)

    def eval_for(self, hp: Mapping[str, jax.Array]) -> train.EvalStep:
        """The eval step of the row with traced values ``hp``."""
        t = self.trial(hp)
        return train.make_eval_step(t.model, t.loss, t.metrics)

    def step_one(self, row: Row, batch: tuple[jax.Array, jax.Array]) -> tuple[Row, dict[str, jax.Array]]:
        """One row's guarded train step (the trainer vmaps it), for memory estimates."""
        return train.guarded_step(self.step_for, row, batch)

    def eval_one(self, row: Row, batch: tuple[jax.Array, jax.Array]) -> dict[str, jax.Array]:
        """One row's eval step, for memory estimates."""
        return self.eval_for(row.hp)(row.ts, batch)


class Static:
    """A group's static values as a cache key: compared by repr, since values may be unhashable (arrays)."""

    def __init__(self, values: dict[str, Any]):
        self.values, self._key = values, repr(sorted(values.items()))

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Static) and self._key == other._key


@functools.lru_cache(maxsize=64)
def cached_program(build: Callable[[dict], Any], names: tuple[str, ...], static: Static,
                   input_shape: tuple[int, ...]) -> Program:
    """``Program(build, names, static.values, ...)``, one per distinct set of arguments."""
    # Cached like jax.jit caches on function identity: rounds of coarse_to_fine, rungs of successive halving and
    # repeated runs with the same build reuse the compiled programs instead of compiling again.
    return Program(build, names, static.values, input_shape)
