"""optax transformations as jaxnn optimizers (and why jaxnn optimizers already work where optax expects one).

A jaxnn :class:`~jaxnn.optim.Optimizer` and an optax ``GradientTransformation`` are both a pair
``(init, update)`` with ``update(grads, state, params=None) -> (updates, state)``, so the two convert without
touching the arithmetic: :func:`from_optax` only moves the numeric hyperparameters that
``optax.inject_hyperparams`` put in the state to where :func:`~jaxnn.optim.hparams` looks for them. optax is
never imported here: a transformation is recognised by its two functions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxnn.optim.base import Optimizer, PyTree


class OptaxState(NamedTuple):
    """State of :func:`from_optax`.

    Attributes:
        hparams: the constant numeric hyperparameters of every ``optax.inject_hyperparams`` state inside,
            by optax's names (``learning_rate``), prefixed by the state's position when it is nested
            (``1.learning_rate`` inside an ``optax.chain``).
        optax_state: the optax state with those values taken out (scheduled ones stay, optax recomputes them).
    """

    hparams: dict[str, jax.Array]
    optax_state: PyTree


def from_optax(tx: Any) -> Optimizer:
    """Wraps an optax ``GradientTransformation`` as a jaxnn :class:`~jaxnn.optim.Optimizer`.

    The updates are optax's own, bit for bit: ``update(grads, state, params)`` calls ``tx.update`` on the
    same arguments. When ``tx`` (or a transformation inside an ``optax.chain``) is made with
    ``optax.inject_hyperparams``, its constant numeric hyperparameters appear in :func:`~jaxnn.optim.hparams`
    under optax's names, :func:`~jaxnn.optim.set_hparams` changes them, and a sweep's traced values reach
    them (``inject_hyperparams(optax.adam)(learning_rate=hp["lr"])``). Hyperparameters given as schedules are
    recomputed by optax every step and so are not listed. Without ``inject_hyperparams`` the transformation
    still trains (a traced value passed to its constructor works in a sweep) but lists no hyperparameters.

    Args:
        tx: an optax ``GradientTransformation`` (anything with ``init(params)`` and
            ``update(updates, state, params)``).

    Returns:
        An ``Optimizer`` usable in :func:`~jaxnn.optim.chain`, ``train.fit`` and sweeps.

    Raises:
        TypeError: if ``tx`` has no callable ``init`` and ``update``.

    Example::

        import optax
        opt = optim.from_optax(optax.inject_hyperparams(optax.adamw)(learning_rate=1e-3, weight_decay=1e-4))
        state = opt.init(params)
        state = optim.set_hparams(state, learning_rate=3e-4)
        updates, state = opt.update(grads, state, params)
    """
    if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
        raise TypeError(f"from_optax: tx must be an optax GradientTransformation (with init and update), "
                        f"got {tx!r:.200}.")

    def init(params: PyTree) -> OptaxState:
        return _take_hparams(tx.init(params))

    def update(grads: PyTree, state: OptaxState, params: PyTree | None = None) -> tuple[PyTree, OptaxState]:
        updates, optax_state = tx.update(grads, _put_hparams(state), params)
        return updates, _take_hparams(optax_state)

    return Optimizer(init, update)


def _is_injected(node: Any) -> bool:
    # optax.inject_hyperparams' states (InjectHyperparamsState, InjectStatefulHyperparamsState) by their fields.
    return hasattr(node, "_replace") and isinstance(getattr(node, "hyperparams", None), dict)


def _prefix(path: tuple) -> str:
    parts = [str(getattr(k, "idx", getattr(k, "name", getattr(k, "key", k)))) for k in path]
    return "".join(part + "." for part in parts)


def _constant(node: Any) -> list[str]:
    """The names of ``node``'s hyperparameters that are not schedules (those have an entry in its states)."""
    scheduled = getattr(node, "hyperparams_states", None) or {}
    return [name for name in node.hyperparams if name not in scheduled]


def _take_hparams(optax_state: PyTree) -> OptaxState:
    """Moves the constant injected hyperparameters out of ``optax_state`` into one flat, named dict."""
    nodes, treedef = jax.tree_util.tree_flatten_with_path(optax_state, is_leaf=_is_injected)
    hparams, leaves = {}, []
    for path, node in nodes:
        if _is_injected(node):
            constant = _constant(node)
            hparams.update({_prefix(path) + name: node.hyperparams[name] for name in constant})
            node = node._replace(hyperparams={k: v for k, v in node.hyperparams.items() if k not in constant})
        leaves.append(node)
    return OptaxState(hparams, treedef.unflatten(leaves))


def _put_hparams(state: OptaxState) -> PyTree:
    """The optax state with ``state.hparams`` put back where :func:`_take_hparams` found them."""
    nodes, treedef = jax.tree_util.tree_flatten_with_path(state.optax_state, is_leaf=_is_injected)
    leaves = []
    for path, node in nodes:
        if _is_injected(node):
            prefix = _prefix(path)
            mine = {name[len(prefix):]: value for name, value in state.hparams.items()
                    if name.startswith(prefix) and "." not in name[len(prefix):]}
            node = node._replace(hyperparams={**node.hyperparams, **mine})
        leaves.append(node)
    return treedef.unflatten(leaves)
