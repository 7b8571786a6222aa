"""What sweeps and data-parallel ``fit`` need to run under JAX's multi-process runtime (``jax.distributed.initialize``).

Every process runs the same program over one global mesh. Host-side decisions (chunk sizes,
whether to load a checkpoint, which configs survive a rung) must therefore agree on every process, or the
processes issue different collectives and hang; results live sharded over all processes' devices and are
gathered before NumPy sees them. With one process every function here is a cheap no-op.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils


def is_main() -> bool:
    """True on process 0, the one that writes files and shows progress."""
    return jax.process_index() == 0


def local_devices(devices: list[Any]) -> list[Any]:
    """The devices of ``devices`` this process drives (all of them with one process)."""
    return [d for d in devices if d.process_index == jax.process_index()] or jax.local_devices()


def gather(tree: Any) -> Any:
    """``tree`` with every array that spans several processes gathered whole onto this process.

    A collective: every process must call it with the same tree. Typed PRNG keys stay typed keys (on this
    process's default device); other gathered leaves become NumPy arrays; process-local leaves are unchanged.
    """
    return jax.tree.map(_gather_leaf, tree)


def _gather_leaf(leaf: Any) -> Any:
    if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
        return leaf
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        data = multihost_utils.process_allgather(jax.random.key_data(leaf), tiled=True)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
    return multihost_utils.process_allgather(leaf, tiled=True)


def agree(flag: bool) -> bool:
    """Process 0's ``flag`` on every process, for a decision whose branches run different collectives."""
    if jax.process_count() == 1:
        return flag
    return bool(multihost_utils.broadcast_one_to_all(np.bool_(flag)))


def smallest(value: int) -> int:
    """The smallest ``value`` over all processes (e.g. a memory budget, so every process plans the same chunks)."""
    if jax.process_count() == 1:
        return value
    return int(np.min(multihost_utils.process_allgather(np.int64(value))))


def put(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """``jax.device_put(tree, sharding)`` for host values that every process holds in full (data, configs).

    With several processes each one feeds only the shards of its own devices (``make_array_from_callback``),
    so no data crosses between hosts and nothing checks that the copies agree: build them deterministically.
    """
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(lambda leaf: _put_leaf(leaf, sharding), tree)


def _put_leaf(leaf: Any, sharding: jax.sharding.Sharding) -> jax.Array:
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_put_leaf(jax.random.key_data(leaf), sharding),
                                        impl=jax.random.key_impl(leaf))
    host = np.asarray(leaf)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def reshard(tree: Any, sharding: jax.sharding.Sharding) -> Any:
    """``jax.device_put(tree, sharding)`` for arrays already on the mesh (the outputs of sweep programs).

    With several processes ``device_put`` refuses typed PRNG keys that span processes; an identity program
    with that output sharding moves any array, keys included.
    """
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.jit(_identity, out_shardings=sharding)(tree)


def _identity(tree: Any) -> Any:
    return tree


def barrier(name: str) -> None:
    """Waits until every process gets here, e.g. so that all of them see a file process 0 just wrote."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
