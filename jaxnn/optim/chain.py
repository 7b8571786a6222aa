"""Composition: run several transformations one after another."""

from __future__ import annotations

from typing import Any, NamedTuple

from jaxnn.optim.base import Optimizer, PyTree, StateKind, check_state


class ChainState(NamedTuple):
    """State of :func:`chain`: one state per transformation, in order."""

    states: tuple[Any, ...]


def chain(*transforms: Optimizer) -> Optimizer:
    """Feeds the updates of each transformation into the next: ``chain(clip_by_global_norm(1.0), adam(1e-3))``.

    Hyperparameter names inside a chain are prefixed by position: ``0.max_norm``, ``1.lr`` (``set_hparams``
    also accepts the bare name when it is unambiguous).

    Raises:
        TypeError: if an argument is not an Optimizer; at ``update``, a state that this chain's ``init`` did not
            make (another chain's, with another number of transformations, or a lone optimizer's).

    Example::

        opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))
    """
    for i, t in enumerate(transforms):
        if not isinstance(t, Optimizer):
            raise TypeError(f"chain: argument {i} must be an Optimizer (e.g. optim.adam()), got {t!r}.")

    kind = StateKind(ChainState, parts=len(transforms))

    def init(params: PyTree) -> ChainState:
        return ChainState(tuple(t.init(params) for t in transforms))

    def update(grads: PyTree, state: ChainState, params: PyTree | None = None) -> tuple[PyTree, ChainState]:
        check_state(state, kind, "chain")  # each inner update checks its own state
        new_states = []
        for t, s in zip(transforms, state.states):
            grads, s = t.update(grads, s, params)
            new_states.append(s)
        return grads, ChainState(tuple(new_states))

    return Optimizer(init, update)
