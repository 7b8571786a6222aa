"""The optimizer contract: an ``Optimizer`` is a NamedTuple of two pure functions.

``init(params) -> state`` builds the state (moments, step count and the hyperparameters themselves);
``update(grads, state, params) -> (updates, state)`` turns gradients into additive updates, which
``apply_updates`` adds to the params. Nothing is hidden in closures that a running job might want to read
or change: see :mod:`jaxnn.optim.hyperparams`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import masks

PyTree = Any
InitFn = Callable[[PyTree], PyTree]
UpdateFn = Callable[..., tuple[PyTree, PyTree]]


class Optimizer(NamedTuple):
    """A pair of pure functions.

    Attributes:
        init: ``init(params) -> state``.
        update: ``update(grads, state, params=None) -> (updates, new_state)``; ``params`` is needed by
            weight decay.
    """

    init: InitFn
    update: UpdateFn


def apply_updates(params: PyTree, updates: PyTree) -> PyTree:
    """Returns ``params + updates``, each leaf cast back to the dtype of its param.

    Raises:
        ValueError: ``updates`` and ``params`` differ in structure or shapes.
        TypeError: a param is not floating-point (casting back would silently truncate the update).
    """
    check_tree(updates, params, "updates", "params")
    check_float_params(params)
    return jax.tree.map(lambda p, u: jnp.asarray(p + u).astype(jnp.asarray(p).dtype), params, updates)


def _describe(tree: PyTree) -> str:
    shapes = jax.tree.map(lambda x: f"{jnp.dtype(x.dtype).name}{list(jnp.shape(x))}", tree)
    return str(shapes)


def check_tree(tree: PyTree, reference: PyTree, name: str, reference_name: str) -> None:
    """Raises ``ValueError`` showing both trees when ``tree`` differs from ``reference`` in structure or shapes.

    Runs at trace time (structures and shapes are static), so it costs nothing in a compiled step.
    """
    same = jax.tree.structure(tree) == jax.tree.structure(reference) and all(
        jnp.shape(a) == jnp.shape(b) for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(reference))
    )
    if not same:
        raise ValueError(
            f"{name} do not match {reference_name}: every leaf must have the same path and shape.\n"
            f"  {name}: {_describe(tree)}\n  {reference_name}: {_describe(reference)}\n"
            f"Pass {name} computed for the same params that the optimizer state was initialised with."
        )


def check_float_params(params: PyTree) -> None:
    """Raises ``TypeError`` naming the first non-floating leaf: optimizers only move floating-point params."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        dtype = jnp.asarray(leaf).dtype
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"params{jax.tree_util.keystr(path)} has dtype {dtype}; optimizers need floating-point params "
                f"(float32, bfloat16, float16 or float64). Cast it, e.g. params = jax.tree.map(lambda p: "
                f"p.astype(jnp.float32), params), or keep integer constants out of the params tree."
            )


def zeros_like_tree(params: PyTree, dtype: Any = None) -> PyTree:
    """Zeros shaped like ``params``; each leaf in ``dtype`` or, when None, in its param's dtype."""
    return jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), dtype or jnp.asarray(p).dtype), params)


def is_concrete_zero(value: Any) -> bool:
    """True when ``value`` is known at construction time to be zero everywhere (never for traced values)."""
    leaves = jax.tree.leaves(value)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return False
    return all(np.all(np.asarray(leaf) == 0) for leaf in leaves)


def broadcast_to_tree(value: PyTree, tree: PyTree) -> PyTree:
    """Repeats each leaf of ``value`` (a tree prefix of ``tree``, e.g. per-layer learning rates) over its subtree."""
    return jax.tree.map(lambda v, subtree: jax.tree.map(lambda _: v, subtree), value, tree)


def global_norm(tree: PyTree) -> jax.Array:
    """The L2 norm of all leaves of ``tree`` taken together, computed in float32."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(jnp.asarray(x, jnp.float32))) for x in jax.tree.leaves(tree)))


def require_params(params: PyTree | None, grads: PyTree) -> PyTree:
    """Returns ``params`` after checking that they were passed and match ``grads`` (weight decay needs them)."""
    if params is None:
        raise ValueError(
            "update(grads, state, params): params is None but this optimizer has weight_decay; "
            "pass the current params as the third argument."
        )
    check_tree(grads, params, "grads", "params")
    return params


def compute_dtype(dtype: Any) -> Any:
    """The dtype optimizer arithmetic runs in: float32, or float64 for float64 params (never narrower)."""
    return jnp.promote_types(dtype, jnp.float32)


def gradients_with_decay(grads: PyTree, params: PyTree | None, weight_decay: PyTree, required: bool,
                         mask: masks.Mask | None = None) -> PyTree:
    """``g + weight_decay · p`` in the compute dtype (the textbooks' L2 term added to the gradient).

    ``weight_decay`` is a scalar or a tree prefix of ``grads``. Whenever ``params`` are passed the term is
    added to the leaves that ``mask`` selects (:func:`decay_mask`), so a decay set later with ``set_hparams``
    takes effect; ``params`` may be omitted only when the decay was zero at construction (``required`` False).
    """
    grads = jax.tree.map(lambda g: jnp.asarray(g, compute_dtype(jnp.asarray(g).dtype)), grads)
    if params is None and not required:
        return grads
    decay = broadcast_to_tree(weight_decay, grads)
    params = require_params(params, grads)
    return jax.tree.map(lambda g, p, wd, keep: g + wd * jnp.asarray(p, g.dtype) if keep else g,
                        grads, params, decay, decay_mask(mask, params))


def decay_mask(mask: masks.Mask | None, params: PyTree) -> PyTree:
    """The optimizers' ``mask=`` as one bool per leaf of ``params``; default every leaf (torch.optim, optax)."""
    return masks.resolve(mask, params, masks.every_leaf, "mask")


def leafwise(fn: Callable[..., tuple[Any, ...]], tree: PyTree, *others: PyTree) -> tuple[PyTree, ...]:
    """Calls ``fn(leaf, *matching)`` for each leaf of ``tree`` and returns its outputs as trees shaped like ``tree``.

    ``others`` have ``tree``'s structure or extend it below its leaves (dicts of hyperparameters per leaf);
    ``fn`` returns a tuple, and output ``i`` of every call is gathered into tree ``i``.
    """
    leaves, treedef = jax.tree.flatten(tree)
    columns = [treedef.flatten_up_to(other) for other in others]
    results = [fn(*args) for args in zip(leaves, *columns)]
    n_outputs = len(results[0]) if results else 0
    return tuple(treedef.unflatten([r[i] for r in results]) for i in range(n_outputs))
