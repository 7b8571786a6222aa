"""Chunk sizing: byte counts, the per-device budget, and the chunk size the engine picks from them."""

import jax
import jax.numpy as jnp
import pytest

from jaxnn import sweep
from jaxnn.sweep import memory

from .common import BATCH, BUILD, CONFIGS, DATA, make_build


def test_byte_counts():
    tree = {"w": jax.ShapeDtypeStruct((3, 4), jnp.float32), "n": jnp.zeros(5, jnp.int8), "key": jax.random.key(0)}
    assert memory.nbytes(tree) == 48 + 5
    # sin and the product each make a (3, 4) float32: 96 bytes of intermediates.
    assert memory.jaxpr_bytes(lambda a: jnp.sin(a) * 2, jax.ShapeDtypeStruct((3, 4), jnp.float32)) == 96


class _Device:
    def __init__(self, stats):
        self.stats = stats

    def memory_stats(self):
        return self.stats


def test_budget_and_chunk_rows():
    assert memory.default_budget(_Device({"bytes_limit": 1000, "bytes_in_use": 200})) == 400
    assert memory.default_budget(_Device(None)) == memory.CPU_BUDGET == 2 << 30
    assert memory.chunk_rows(per_row=100, budget=1000, fixed=200, n_devices=2) == 16
    assert memory.chunk_rows(per_row=100, budget=100, fixed=200, n_devices=2) == 2  # at least one per device


@pytest.mark.parametrize(("kwargs", "rows"), [
    ({}, 4),                             # 2 GiB holds the whole group
    ({"memory_budget": 1}, 1),           # nothing fits: one config at a time
    ({"chunk_size": 3}, 3),
    ({"chunk_size": 10}, 4),             # never more than the group
])
def test_the_engine_sizes_chunks_from_the_budget(kwargs, rows):
    engine = sweep.engine.Sweep(BUILD, CONFIGS, DATA, batch_size=BATCH, **kwargs)
    assert engine._chunk_rows((), 4) == rows


def test_a_budget_for_two_rows():
    engine = sweep.engine.Sweep(BUILD, CONFIGS, DATA, batch_size=BATCH)
    per_row = engine.row_bytes(())
    state = 4 * (4 * 8 + 8 + 8 * 2 + 2)  # float32 params; plain SGD keeps no moments
    assert 2 * state < per_row < 2 * state + 100 * BATCH * 8 * 4  # plus activations and gradients of a batch
    engine.budget = engine.data_bytes + 2 * per_row + 1
    assert engine._chunk_rows((), 4) == 2


def test_a_rerun_does_not_trace_the_step_again_for_its_memory_estimate(monkeypatch):
    # The estimate traces the train step; a short sweep's call used to spend more on that than on training.
    calls = []
    real = memory.row_bytes
    monkeypatch.setattr(memory, "row_bytes", lambda *args: calls.append(1) or real(*args))
    build = make_build()  # a build of its own: its program is not cached by another test
    for _ in range(2):
        sweep.run(build, CONFIGS, DATA, epochs=1, batch_size=BATCH, progress=False)
    assert len(calls) == 1
