"""Which params a penalty or a decay acts on: one mask mechanism for ``l2`` and every optimizer's ``weight_decay``.

A mask is, as optax's ``mask=``, either a tree prefix of the params whose leaves are Python bools (a bool for a
whole subtree, e.g. ``{"0": True, "1": False}`` for a two-layer model), or a function ``params -> bool tree``
(shapes and dtypes are static, so it runs at trace time under ``jit`` and ``vmap``). ``True`` selects a leaf.

Two defaults, used when ``mask`` is None:

- :func:`weight_matrices`, every leaf with ``ndim >= 2``, for the L2 penalty (``losses.l2_penalty`` and
  ``train.make_train_step(l2=...)``): Dense and Conv weights whatever their key (``"w"``, Flax's ``"kernel"``),
  not biases or BatchNorm's scale and offset. Maxout's bias has shape ``(units, pieces)`` and counts.
- :func:`every_leaf` for optimizers' ``weight_decay``, as ``torch.optim`` and optax do.

Example::

    from jaxnn import losses, masks, nn, optim

    params, _ = nn.Sequential([nn.Dense(3), nn.relu, nn.Dense(2)]).init(jax.random.key(0), (4,))
    losses.l2_penalty(params, 1e-4)                                  # weight matrices and kernels
    losses.l2_penalty(params, 1e-4, mask={"0": True, "2": False})   # only layer "0"
    optim.adamw(1e-3, weight_decay=0.01, mask=masks.weight_matrices)  # no decay on biases
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

PyTree = Any
Mask = PyTree | Callable[[PyTree], PyTree]
"""A bool tree prefix of the params, or a function ``params -> bool tree``."""

__all__ = ["Mask", "every_leaf", "resolve", "weight_matrices"]


def weight_matrices(params: PyTree) -> PyTree:
    """The default L2 mask: ``True`` for every leaf with ``ndim >= 2`` (weight matrices and kernels).

    Example::

        from jaxnn import masks

        masks.weight_matrices({"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)})   # {"kernel": True, "bias": False}
    """
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def every_leaf(params: PyTree) -> PyTree:
    """The default weight-decay mask: ``True`` for every leaf.

    Example::

        from jaxnn import masks

        masks.every_leaf({"w": jnp.ones((3, 2)), "b": jnp.ones(2)})   # {"w": True, "b": True}
    """
    return jax.tree.map(lambda _: True, params)


def resolve(mask: Mask | None, params: PyTree, default: Callable[[PyTree], PyTree], name: str) -> PyTree:
    """The mask as a tree of Python bools with exactly the structure of ``params``.

    Args:
        mask: None (use ``default``), a bool tree prefix of ``params``, or a function ``params -> bool tree``.
        params: the params (arrays, tracers or ShapeDtypeStructs: only the structure and shapes are read).
        default: the mask used when ``mask`` is None.
        name: the argument's name for error messages (``"mask"``, ``"l2_mask"``).

    Returns:
        A tree shaped like ``params`` with one Python bool per leaf.

    Raises:
        TypeError: a mask leaf is not a bool (a traced or non-bool value).
        ValueError: the mask is not a tree prefix of ``params``; the message shows both trees.

    Example::

        from jaxnn import masks

        w, b = jnp.ones((3, 2)), jnp.ones(2)
        masks.resolve({"0": False}, {"0": {"w": w, "b": b}}, masks.every_leaf, "mask")   # {"0": {"w": False, ...}}
    """
    tree = default(params) if mask is None else mask(params) if callable(mask) else mask
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not _is_bool(leaf):
            raise TypeError(
                f"{name}{jax.tree_util.keystr(path)}={leaf!r} is not allowed: every leaf of {name} must be a "
                f"Python bool (True selects the params below it), known before tracing."
            )
    try:
        return jax.tree.map(lambda m, subtree: jax.tree.map(lambda _: bool(m), subtree), tree, params)
    except ValueError:
        shapes = jax.tree.map(lambda p: list(jnp.shape(p)), params)
        raise ValueError(
            f"{name} is not a tree prefix of the params: each key of {name} must be a key of the params at the "
            f"same place, and each bool stands for the params below it.\n  {name}: {tree}\n  params: {shapes}"
        ) from None


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_) or (
        isinstance(value, np.ndarray | jax.Array) and not isinstance(value, jax.core.Tracer)
        and value.shape == () and value.dtype == bool
    )
