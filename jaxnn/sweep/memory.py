"""How many configs fit in one chunk: a per-config memory estimate against a per-device budget."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

CPU_BUDGET = 2 << 30
"""Bytes per device when the device does not report its memory (the CPU)."""
DEVICE_FRACTION = 0.5
"""Share of a device's free memory a sweep plans to use; the rest is headroom for XLA's own buffers."""


def default_budget(device: Any) -> int:
    """Half of ``device``'s free memory where it reports ``memory_stats()`` (GPUs, TPUs), else 2 GiB."""
    stats = device.memory_stats() or {}
    if "bytes_limit" not in stats:
        return CPU_BUDGET
    return int(DEVICE_FRACTION * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))


def nbytes(tree: Any) -> int:
    """Total bytes of the arrays (or ShapeDtypeStructs) in ``tree``."""
    return sum(math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(tree)
               if not jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key))


def jaxpr_bytes(fn: Any, *args: Any) -> int:
    """Bytes of every value ``fn`` computes, from its jaxpr (traced on shapes only, nothing runs).

    Summing all intermediates over-counts what XLA keeps alive at once; for one chunk's sizing an upper bound
    is what we want. It sees every layer's activations, convolutions' spatial maps included.
    """
    jaxpr = jax.make_jaxpr(fn)(*args)
    return sum(nbytes([v.aval for v in eqn.outvars]) for eqn in jaxpr.eqns)


def row_bytes(state: Any, train_step: Any, eval_step: Any, batch: Any, eval_batch: Any) -> int:
    """Estimated device bytes for one config: its state twice (input and output of a step) plus the larger
    of a train step's and an eval step's intermediates."""
    return 2 * nbytes(state) + max(jaxpr_bytes(train_step, state, batch), jaxpr_bytes(eval_step, state, eval_batch))


def chunk_rows(per_row: int, budget: int, fixed: int, n_devices: int) -> int:
    """Configs per chunk: as many as ``budget`` per device holds after ``fixed`` bytes (the replicated
    data), at least one per device, a multiple of the device count."""
    return n_devices * max(1, (budget - fixed) // max(per_row, 1))
