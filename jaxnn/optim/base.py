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


def describe_tree(tree: PyTree) -> str:
    """``tree`` with each leaf shown as ``dtype[shape]``, for error messages."""
    shapes = jax.tree.map(lambda x: f"{jnp.result_type(x).name}{list(jnp.shape(x))}", tree)
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
            f"  {name}: {describe_tree(tree)}\n  {reference_name}: {describe_tree(reference)}\n"
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
    """The L2 norm of all leaves of ``tree`` taken together, ``√(Σ |x|²)``, computed in float32.

    A complex leaf counts its modulus (real and imaginary parts); an empty tree has norm 0.
    """
    return jnp.sqrt(sum((_squared_norm(x) for x in jax.tree.leaves(tree)), jnp.zeros([], jnp.float32)))


def _squared_norm(x: Any) -> jax.Array:
    x = jnp.asarray(x)
    x = x.astype(jnp.complex64 if jnp.iscomplexobj(x) else jnp.float32)
    return jnp.sum(jnp.real(x * jnp.conj(x)))


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


def leafwise(
    fn: Callable[..., tuple[Any, ...]], outputs: int, tree: PyTree, *others: PyTree
) -> tuple[PyTree, ...]:
    """Calls ``fn(leaf, *matching)`` for each leaf of ``tree`` and returns its outputs as trees shaped like ``tree``.

    ``others`` have ``tree``'s structure or extend it below its leaves (dicts of hyperparameters per leaf);
    ``fn`` returns a tuple of ``outputs`` values, and value ``i`` of every call is gathered into tree ``i``. A
    tree without leaves (``{}``, ``{"w": None}``) gives ``outputs`` empty trees of its structure, as optax does.
    """
    leaves, treedef = jax.tree.flatten(tree)
    columns = [treedef.flatten_up_to(other) for other in others]
    results = [fn(*args) for args in zip(leaves, *columns)]
    return tuple(treedef.unflatten([r[i] for r in results]) for i in range(outputs))


def check_acc_dtype(acc_dtype: Any) -> None:
    """Raises ``TypeError`` unless ``acc_dtype`` is None or a floating-point dtype (moments must hold fractions)."""
    try:
        floating = acc_dtype is None or jnp.issubdtype(jnp.dtype(acc_dtype), jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise TypeError(
            f"acc_dtype={acc_dtype!r} is not allowed: acc_dtype must be None (the params' dtype) or a "
            f"floating-point dtype such as jnp.float32 or jnp.bfloat16; an integer or bool accumulator would "
            f"truncate the moments to 0."
        )


class StateKind(NamedTuple):
    """What ``update`` needs of a state, all static: its type, hyperparameter names and which buffers it keeps.

    Attributes:
        type: the state's class.
        hparams: the names of its hyperparameters, sorted.
        absent: the buffers that are None in it (a plain SGD state has no velocity, an Adam state no nu_max).
        parts: how many inner states it holds (a ``chain`` one per transformation, a wrapper one).
    """

    type: type
    hparams: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    parts: int = 0


SCHEDULES = "__schedules__"
"""The key of the leafless node of schedule functions in a state's ``hparams`` (not a hyperparameter)."""


def state_kind(state: Any) -> StateKind:
    """The :class:`StateKind` of a state, read from its Python structure."""
    fields = getattr(state, "_fields", ())
    hparams = getattr(state, "hparams", None)
    states = getattr(state, "states", None)
    return StateKind(
        type(state),
        tuple(sorted(name for name in hparams if name != SCHEDULES)) if isinstance(hparams, dict) else (),
        tuple(field for field in fields if getattr(state, field) is None),
        len(states) if isinstance(states, tuple) else int(hasattr(state, "inner")),
    )


def check_state(state: Any, kind: StateKind, optimizer: str) -> None:
    """Raises ``TypeError`` unless ``state`` is of the kind that ``optimizer``'s own ``init`` makes.

    A state carries its optimizer's hyperparameters, so another optimizer's state would run with them (an
    ``sgd(0.5)`` fed an ``adam(1e-3)`` state steps with lr 1e-3). Runs at trace time, so it costs nothing per step.
    """
    found = state_kind(state)
    if found != kind:
        raise TypeError(
            f"{optimizer}.update: the state was not made by this optimizer's init. It is {_describe_kind(found)}; "
            f"{optimizer}.init makes {_describe_kind(kind)}. Pass the state that this optimizer's init returned "
            f"(or build the optimizer that made it)."
        )


def _describe_kind(kind: StateKind) -> str:
    made_by = getattr(kind.type, "made_by", None)
    parts = [
        f"hyperparameters {', '.join(kind.hparams)}" if kind.hparams else "no hyperparameters",
        *([f"no {', '.join(kind.absent)}"] if kind.absent else []),
        *([f"{kind.parts} inner state(s)"] if kind.parts else []),
    ]
    origin = f", made by {made_by(kind)}" if made_by else ""
    article = "an" if kind.type.__name__[0] in "AEIOU" else "a"
    return f"{article} {kind.type.__name__} ({'; '.join(parts)}{origin})"
