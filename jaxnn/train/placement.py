"""Where the trainer's arrays live: one device, data parallel over a mesh, or rows sharded over a mesh.

A placement moves host trees onto devices, lays out each epoch's minibatch indices inside the epoch program,
compiles the epoch for that layout, and brings recorded values back to the host. :func:`jaxnn.train.fit` uses
:class:`DataParallel` for ``devices=``; sweeps use :class:`RowSharded`; everything else the default :class:`Local`.

Example::

    placement = train.DataParallel(jax.devices())      # what fit(..., devices=jax.devices()) uses
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxnn import multihost


class Local:
    """The default device; nothing is sharded."""

    # Compiled epochs are cached per placement: every Local is the same layout.
    def __eq__(self, other: object) -> bool:
        return type(other) is Local

    def __hash__(self) -> int:
        return hash(Local)

    def put(self, tree: Any) -> Any:
        """Host values (data, states) on the device(s)."""
        return tree

    def put_rows(self, tree: Any) -> Any:
        """Per-row host values (masks, stacked states) laid out like the rows."""
        return self.put(tree)

    def constrain(self, indices: jax.Array, per_row: bool) -> jax.Array:
        """An epoch's ``(steps, batch)`` or, ``per_row``, ``(steps, rows, batch)`` indices laid out for the scan
        (called while the epoch program is traced)."""
        return indices

    def settle(self, rows: Any) -> Any:
        """The rows after an epoch, in the layout the next epoch was compiled for."""
        return rows

    def jit(self, fn: Callable) -> Callable:
        """``fn`` compiled for this layout."""
        return jax.jit(fn)

    def to_host(self, tree: Any) -> Any:
        """``tree`` as NumPy arrays on this process."""
        return jax.tree.map(np.asarray, multihost.gather(tree))


class DataParallel(Local):
    """Data parallel over ``devices`` (every process's, after ``jax.distributed.initialize()``): state and data
    replicated, every minibatch split over the devices, so XLA all-reduces the gradients."""

    def __init__(self, devices: Sequence[Any]):
        self.mesh = Mesh(np.array(list(devices)), ("batch",))
        self.replicated = NamedSharding(self.mesh, P())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataParallel) and other.mesh == self.mesh

    def __hash__(self) -> int:
        return hash(self.mesh)

    def put(self, tree: Any) -> Any:
        return multihost.put(tree, self.replicated)

    def constrain(self, indices: jax.Array, per_row: bool) -> jax.Array:
        # Each device gathers and trains its slice of every minibatch; a remainder batch need not split evenly,
        # so it is left to XLA (computed whole on every device).
        return jax.lax.with_sharding_constraint(indices, NamedSharding(self.mesh, P(None, "batch")))

    def jit(self, fn: Callable) -> Callable:
        return jax.jit(fn, out_shardings=self.replicated)


class RowSharded(Local):
    """Rows sharded over a 1-D mesh of ``devices`` (axis ``"configs"``), data replicated: a sweep's layout."""

    def __init__(self, devices: Sequence[Any]):
        self.mesh = Mesh(np.array(list(devices)), ("configs",))
        self.rows = NamedSharding(self.mesh, P("configs"))
        self.replicated = NamedSharding(self.mesh, P())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RowSharded) and other.mesh == self.mesh

    def __hash__(self) -> int:
        return hash(self.mesh)

    def put(self, tree: Any) -> Any:
        return multihost.put(tree, self.replicated)

    def put_rows(self, tree: Any) -> Any:
        return multihost.put(tree, self.rows)

    def constrain(self, indices: jax.Array, per_row: bool) -> jax.Array:
        return jax.lax.with_sharding_constraint(indices, NamedSharding(self.mesh, P(None, "configs")) if per_row
                                                else self.replicated)

    def settle(self, rows: Any) -> Any:
        # A fixed layout between epochs keeps one compiled epoch for the whole sweep. The epoch's outputs normally
        # have it already, and a device_put would still cost a dispatch per leaf every epoch.
        return rows if _placed(rows, self.rows) else multihost.reshard(rows, self.rows)


def _placed(tree: Any, sharding: NamedSharding) -> bool:
    """Whether every leaf of ``tree`` is a device array laid out as ``sharding``."""
    return all(isinstance(leaf, jax.Array) and leaf.sharding.is_equivalent_to(sharding, leaf.ndim)
               for leaf in jax.tree.leaves(tree))
