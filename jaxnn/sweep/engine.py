"""``run``: trains every configuration of a sweep together, one ``jit(vmap(...))`` program per static group.

How a sweep executes:

- **Rows.** Config ``i`` with seed ``s`` is row ``i * seeds + s``; it is initialised from
  ``config_key(key, i, s)`` alone, so its result does not depend on which chunk or device it lands on, nor on
  which other configs run.
- **Groups.** Configs with the same static values (``choice(["sgd", "adam"])``, ``fixed``, static widths)
  share one :class:`~jaxnn.sweep.program.Program`; traced values are rows of stacked arrays.
- **Chunks.** A group runs in chunks of a fixed number of rows, the last one padded with copies of its last
  row, so every chunk reuses the same compiled epoch. The size is at most ``chunk_size`` or what the memory
  budget holds (see :mod:`jaxnn.sweep.memory`); a series of calls that share it (the rungs of a halving) gets
  the size that minimises their modelled time (:meth:`Sweep.chunk_sizes`).
- **Devices.** Each chunk's rows are sharded over a 1-D mesh of all devices (``NamedSharding(mesh,
  P("configs"))``); the data is replicated. Chunks are padded to a multiple of the device count.
- **Processes.** After ``jax.distributed.initialize()`` ``jax.devices()`` spans every process, so the same mesh
  shards rows over all their devices: every process runs this code with the same arguments, puts its own
  shards of the data and rows on its devices, and gathers the histories; host decisions are agreed on (see
  :mod:`jaxnn.multihost`).
- **Epochs.** Each chunk trains with :func:`jaxnn.train.run_rows`, the stacked trainer ``fit_stack`` uses:
  one compiled ``lax.scan`` per epoch over the vmapped step; by default every row sees the same minibatches
  (common random numbers). Every named evaluation set and recorder is recorded per epoch and row.
- **Divergence.** A row whose loss or params become non-finite freezes at its last finite state and records
  the step (:func:`jaxnn.train.guarded_step`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import checkpoint, multihost, train
from jaxnn._compile_time import compile_seconds
from jaxnn.sweep import memory
from jaxnn.sweep.program import Program, Row, Static, cached_program, row_key, shared_order_key
from jaxnn.sweep.result import SweepResult
from jaxnn.sweep.space import Configs
from jaxnn.sweep.validate import validate_configs
from jaxnn.validation import check_seed

OVERHEAD_ROWS = {"cpu": 1.0, "accelerator": 4096.0}
"""The fixed cost of one step of a chunk (dispatch, the scan's loop, host work) in rows' worth of compute, for
:meth:`Sweep.chunk_sizes`. On a quiet 2-core CPU a 40-100-100-10 MLP at batch 100 took 0.36 ms per step for 1
row, 2.75 ms for 16 and 10.5 ms for 64: about 0.19 ms plus 0.16 ms per row, so the overhead is worth about one
row. On an accelerator many small rows run in the time of one; its 4096 is an assumption, not yet measured (no
accelerator was at hand), that makes halving's rungs share the largest chunk there."""


def root_key(key: jax.Array | int) -> jax.Array:
    """``key``, or ``jax.random.key(key)`` for an int seed."""
    if not isinstance(key, int | np.integer):
        return key
    # uint32: the whole range check_seed allows, which a Python int traced as int32 would overflow.
    seed = np.uint32(check_seed("key", key))
    if jax.config.jax_default_prng_impl == "threefry2x32":
        # The key jax.random.key makes of a 32-bit seed, [0, seed], wrapped on the host: nothing to compile.
        return jax.random.wrap_key_data(np.array([0, seed], np.uint32), impl="threefry2x32")
    return _seeded(seed)


_seeded = jax.jit(jax.random.key)  # one program; called eagerly the int is staged by a program of its own


def config_key(key: jax.Array | int, index: int, seed: int = 0) -> jax.Array:
    """The key ``run(..., key=key)`` passes to :func:`jaxnn.train.create` for config ``index``, seed ``seed``.

    With it a single config can be rerun outside the sweep (``train.fit`` with ``shared_order=False`` draws the
    same minibatches, since both shuffle with the run's own key)."""
    return row_key(root_key(key), index, seed)


def order_key(key: jax.Array | int) -> jax.Array:
    """The key whose ``train.epoch_batches`` every config shares when ``shared_order=True``."""
    return _shared_order_key(root_key(key))


_shared_order_key = jax.jit(shared_order_key)  # one program, not three eager ops


class Chunk(NamedTuple):
    """One chunk as :meth:`Sweep.train` left it: its group, the row id in each slot (-1 for a padding slot)
    and its stacked rows, pads included, so that a later call can continue them at the same shape."""

    group: tuple
    ids: np.ndarray  # (chunk rows,)
    rows: Row


class Trained(NamedTuple):
    """What :meth:`Sweep.train` returns for the rows it trained, in the order asked."""

    history: dict[str, np.ndarray]  # name -> (rows, epochs)
    diverged_at: np.ndarray  # (rows,)
    states: list[Chunk]  # every chunk trained, when keep_states


class Sweep:
    """A sweep's fixed setting (configs, data, devices, keys) and the compiled programs of its groups.

    :func:`run` trains every row once; :func:`~jaxnn.sweep.successive_halving` calls :meth:`train` once per
    rung, continuing the survivors' states.
    """

    def __init__(self, build: Callable[[dict], Any], configs: Configs | Sequence[dict], data: Any, *,
                 batch_size: int, seeds: int = 1, key: jax.Array | int = 0, shared_order: bool = True,
                 chunk_size: int | None = None, memory_budget: int | None = None,
                 eval_batch_size: int | None = None, devices: Sequence[Any] | None = None, progress: bool = True,
                 eval_sets: Mapping[str, Any] | None = None, recorders: Mapping[str, train.Recorder] | None = None):
        configs = configs if isinstance(configs, Configs) else Configs.from_dicts(list(configs))
        (x, y), (ex, ey) = _splits(data)
        _check_args(build, configs, x.shape[0], batch_size, seeds, chunk_size, memory_budget, eval_batch_size)
        validate_configs(build, configs)
        self.configs, self.seeds = configs, seeds
        self.batch_size, self.shared_order, self.progress = batch_size, shared_order, progress
        self.chunk_size, self.key, self._order_key = chunk_size, root_key(key), None
        self.devices = list(devices or jax.devices())
        self.placement = train.RowSharded(self.devices)
        self.mesh, self.rows_sharding, self.replicated = self.placement.mesh, self.placement.rows, \
            self.placement.replicated
        # Every process must cut the same chunks, whatever memory its own devices have free.
        self.budget = memory_budget or multihost.smallest(
            memory.default_budget(multihost.local_devices(self.devices)[0]))
        self.eval_batch_size = eval_batch_size or 4 * batch_size
        self.train_xy = multihost.put((x, y), self.replicated)
        self.eval_sets = {"val": (ex, ey), **{name: train.check_data(xy, f"eval_sets[{name!r}]")
                                              for name, xy in (eval_sets or {}).items()}}
        self.eval_sets = multihost.put(self.eval_sets, self.replicated)
        self.recorders = dict(recorders or {})
        self.data_bytes = memory.nbytes((x, y, self.eval_sets))
        self._data = (x, y, *jax.tree.leaves(self.eval_sets))
        self.traced = [name for name, spec in configs.specs.items() if not spec.static]
        self.static = [name for name, spec in configs.specs.items() if spec.static]
        self.groups: dict[tuple, list[int]] = {}
        for i in range(len(configs)):
            self.groups.setdefault(self.group_of(i), []).append(i)
        self.programs = {
            g: cached_program(build, tuple(configs.names), Static({n: configs[ids[0]][n] for n in self.static}),
                              tuple(x.shape[1:])) for g, ids in self.groups.items()}
        # Every group is traced now, so a build that fails for one group fails before any group trains.
        self.traced_groups = {g: self._trace(g) for g in self.groups}
        if self.recorders or eval_sets:
            self._check_names()
        if jax.process_count() > 1:
            self._check_processes_agree()

    def _check_names(self) -> None:
        # Results put config fields and recorded names side by side: a clash would show one as the other.
        clash = sorted(set(self.configs.names) & set(self.record_names(next(iter(self.groups)))))
        if clash:
            raise ValueError(f"sweep: the recorded names {clash} are also config fields; rename the recorders or "
                             f"eval_sets (a dict recorder 'hparams' records hparams_<name>).")

    def group_of(self, config: int) -> tuple:
        # repr, not the value: static options may be unhashable (arrays, lists).
        return tuple(repr(self.configs[config][name]) for name in self.static)

    def train(self, rows: np.ndarray, epochs: int, start_epoch: int = 0, start: Sequence[Chunk] | None = None,
              keep_states: bool = False, checkpoint_dir: str | os.PathLike | None = None,
              sizes: Mapping[tuple, int] | None = None) -> Trained:
        """Trains ``rows`` (row ids) for ``epochs`` epochs numbered from ``start_epoch``.

        Rows start fresh from their keys, or, with ``start`` (the ``states`` of an earlier call), from where that
        call left them. ``sizes`` (from :meth:`chunk_sizes`) fixes each group's rows per chunk, so that calls
        with fewer rows reuse the compiled programs of the first; default: ``chunk_size`` or what the budget
        holds, at most the call's rows of the group (:meth:`_chunk_rows`).
        With ``checkpoint_dir`` every finished chunk is saved there and loaded instead of retrained when the
        same call is made again.
        """
        rows = np.asarray(rows)
        plan = []  # (group, positions in `rows`, padded row ids of each chunk)
        for group, configs in self.groups.items():
            positions = np.flatnonzero(np.isin(rows // self.seeds, configs))
            if not positions.size:
                continue
            size = sizes[group] if sizes else self._even_chunk(group, positions.size)
            for lo in range(0, positions.size, size):
                chunk = rows[positions[lo:lo + size]]
                plan.append((group, positions[lo:lo + size], np.pad(chunk, (0, size - chunk.size), "edge")))
        history: dict[str, np.ndarray] = {}
        diverged_at = np.full(rows.size, -1, np.int64)
        kept = []
        for index, (group, positions, ids) in enumerate(plan):
            path = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"chunk_{index:05d}.jaxnn")
            progress = f"sweep chunk {index + 1}/{len(plan)} ({len(positions)} runs)"
            final, chunk_history = self._chunk(group, ids, epochs, start_epoch, start, path, progress)
            for name, values in chunk_history.items():
                history.setdefault(name, np.full((rows.size, epochs), np.nan, np.float32))[positions] = \
                    values[: positions.size]
            diverged_at[positions] = np.asarray(multihost.gather(final.diverged_at))[: positions.size]
            if keep_states:
                kept.append(Chunk(group, np.where(np.arange(ids.size) < positions.size, ids, -1), final))
        return Trained(history, diverged_at, kept)

    def _chunk(self, group: tuple, ids: np.ndarray, epochs: int, start_epoch: int, start: Sequence[Chunk] | None,
               path: str | None, progress: str) -> tuple[Row, dict[str, np.ndarray]]:
        """Trains one chunk of rows ``ids``, or loads it from ``path`` where an identical call saved it."""
        initial = self._initial(group, ids) if start is None else self._continued(group, ids, start)
        if path is None:
            return self._run_chunk(self.programs[group], initial, epochs, start_epoch, progress)
        fingerprint = self.fingerprint(group, ids, epochs, start_epoch)
        # With several processes the folder must be shared; process 0 decides and writes, all of them read.
        if multihost.agree(os.path.exists(path)):
            return self._load(path, group, initial, epochs, fingerprint)
        final, history = self._run_chunk(self.programs[group], initial, epochs, start_epoch, progress)
        rows = multihost.gather(final)
        if multihost.is_main():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            checkpoint.save(path, {"rows": rows, "history": history}, {"fingerprint": fingerprint})
        return final, history

    def chunk_sizes(self, work: Sequence[tuple[int, int]]) -> dict[tuple, int]:
        """Each group's rows per chunk for a series of calls that share them, ``work`` = [(configs, epochs)]
        per call (a call trains at most that many of a group's configs).

        The size minimises the modelled time ``sum(chunks * epochs * (OVERHEAD_ROWS + rows per chunk))`` over
        multiples of the device count up to :meth:`_chunk_rows` of the largest call: on a CPU a halving's
        shrinking rungs get a size that its small rungs do not pad much, on an accelerator the largest.
        """
        n_dev = len(self.devices)
        overhead = OVERHEAD_ROWS.get(self.devices[0].platform, OVERHEAD_ROWS["accelerator"])
        sizes = {}
        for group, configs in self.groups.items():
            rows = [(min(len(configs), n) * self.seeds, epochs) for n, epochs in work]
            cap = self._chunk_rows(group, max(r for r, _ in rows))

            def cost(size: int, rows: list = rows) -> float:
                return sum(math.ceil(r / size) * epochs * (overhead + size) for r, epochs in rows)

            sizes[group] = min(range(cap, 0, -n_dev), key=cost)  # the largest of equal costs
        return sizes

    def _even_chunk(self, group: tuple, n_rows: int) -> int:
        """The fewest chunks of at most :meth:`_chunk_rows` rows, of equal size: 1,024 rows under a cap of 926
        run as two chunks of 512, not as 926 and 98 padded to 926 (1.8 times the work)."""
        n_dev, cap = len(self.devices), self._chunk_rows(group, n_rows)
        per_chunk = math.ceil(n_rows / math.ceil(n_rows / cap))
        return math.ceil(per_chunk / n_dev) * n_dev

    def _chunk_rows(self, group: tuple, n_rows: int) -> int:
        """Rows per chunk for ``group``: ``chunk_size`` or what the budget holds, at most the (padded) rows."""
        n_dev = len(self.devices)
        if self.chunk_size is not None:
            size = math.ceil(self.chunk_size / n_dev) * n_dev
        else:
            size = memory.chunk_rows(self.row_bytes(group), self.budget, self.data_bytes, n_dev)
        return min(size, math.ceil(n_rows / n_dev) * n_dev)

    def row_bytes(self, group: tuple) -> int:
        """Estimated device bytes of one row of ``group``, from shapes only (see :func:`memory.row_bytes`)."""
        return _row_bytes(*self._signature(group))

    def _signature(self, group: tuple) -> tuple[Program, tuple, tuple]:
        """What ``group``'s steps are traced from, hashable so the traces are cached: its program, the traced
        fields' dtypes, and the shapes of a minibatch's and an eval batch's inputs and targets."""
        x, y = self._data[:2]
        ex, ey = self.eval_sets["val"]
        ebs = min(self.eval_batch_size, ex.shape[0])
        return (self.programs[group], tuple((name, self.configs.specs[name].dtype) for name in self.traced),
                tuple(jax.ShapeDtypeStruct((n, *a.shape[1:]), a.dtype) for n, a in
                      ((self.batch_size, x), (self.batch_size, y), (ebs, ex), (ebs, ey))))

    def _initial(self, group: tuple, ids: np.ndarray) -> Row:
        configs, seeds = (ids // self.seeds).astype(np.int32), (ids % self.seeds).astype(np.int32)
        hp = {name: np.array([self.configs[c][name] for c in configs], self.configs.specs[name].dtype)
              for name in self.traced}
        # Host values in, rows out: the keys are derived inside the one init program, no op runs eagerly.
        hp, configs, seeds = multihost.put((hp, configs, seeds), self.rows_sharding)
        root = multihost.put(self.key, self.replicated)
        rows, self._order_key = self.programs[group].init(hp, root, configs, seeds)
        return multihost.reshard(rows, self.rows_sharding)

    def shared_order_key(self) -> jax.Array:
        """:func:`order_key` of the sweep's key, as the init program derived it (or derived now, for rows that
        were not initialised in this process: resumed from a checkpoint)."""
        if self._order_key is None:
            self._order_key = order_key(self.key)
        return self._order_key

    def _continued(self, group: tuple, ids: np.ndarray, start: Sequence[Chunk]) -> Row:
        """Rows ``ids`` as the chunks of an earlier call left them: one select per source chunk, every array of
        chunk shape, so that all rungs of a halving share one compiled program."""
        where = {int(r): (c, j) for c, chunk in enumerate(start) if chunk.group == group
                 for j, r in enumerate(chunk.ids) if r >= 0}
        source = np.array([where[int(r)] for r in ids])
        rows = start[source[0, 0]].rows
        for c in np.unique(source[:, 0]):
            mask, picks = multihost.put((source[:, 0] == c, source[:, 1]), self.replicated)
            rows = _select_rows(rows, start[c].rows, mask, picks)
        return multihost.reshard(rows, self.rows_sharding)

    def _run_chunk(self, program: Program, rows: Row, epochs: int, start_epoch: int, progress: str
                   ) -> tuple[Row, dict[str, np.ndarray]]:
        callbacks = [train.Progress(progress)] if self.progress and multihost.is_main() else []
        rows, _, history = train.run_rows(
            rows, program.step_for, self.train_xy, start_epoch + epochs, self.batch_size,
            eval_for=program.eval_for, eval_sets=self.eval_sets, eval_batch_size=self.eval_batch_size,
            order_key=self.shared_order_key() if self.shared_order else None, recorders=self.recorders,
            callbacks=callbacks, placement=self.placement, done=start_epoch)
        return rows, {name: np.stack(values, axis=1).astype(np.float32) for name, values in history.items()
                      if name not in ("epoch", "time")}

    def record_names(self, group: tuple) -> list[str]:
        """The names a chunk of ``group`` records per epoch, from shapes only (nothing runs)."""
        return self.traced_groups[group][1]

    def _trace(self, group: tuple) -> tuple[str, list[str]]:
        """``group``'s digest and recorded names (:func:`_trace_program`), the error naming the group."""
        try:
            digest, metrics, evals = _trace_program(*self._signature(group))
            names = list(metrics) + [f"{s}_{k}" for s in self.eval_sets for k in evals]
            if self.recorders:
                row = _row_shape(*self._signature(group)[:2])
                names += list(jax.eval_shape(train.trainer.recorders_fn(tuple(self.recorders.items()), False), row))
        except Exception as error:
            configs = self.groups[group]
            values = {n: self.configs[configs[0]][n] for n in self.static}
            error.add_note(f"sweep: raised while tracing the static group {values} "
                           f"(configs {configs[:5]}{' ...' if len(configs) > 5 else ''}), before any group trained.")
            raise
        return digest, names

    def _load(self, path: str, group: tuple, initial: Row, epochs: int, fingerprint: str
              ) -> tuple[Row, dict[str, np.ndarray]]:
        advice = "use a fresh checkpoint_dir, or delete the file to retrain that chunk"
        size = initial.diverged_at.shape[0]
        like = {"rows": jax.eval_shape(lambda r: r, initial),
                "history": {n: jax.ShapeDtypeStruct((size, epochs), jnp.float32) for n in self.record_names(group)}}
        try:
            tree, meta = checkpoint.load(path, like)
        except checkpoint.CheckpointError as error:
            raise ValueError(f"sweep: cannot resume from {path}: {error}. Written by a different sweep, or damaged: "
                             f"{advice}.") from error
        if meta.get("fingerprint") != fingerprint:
            raise ValueError(f"sweep: {path} was written by a different sweep (other configs, data, seeds, epochs, "
                             f"chunking, or a build whose program differs: layers, activations, loss, l2, "
                             f"metrics): {advice}.")
        history = {name: np.asarray(v) for name, v in tree["history"].items()}
        return multihost.put(tree["rows"], self.rows_sharding), history

    def fingerprint(self, group: tuple, ids: np.ndarray, epochs: int, start_epoch: int) -> str:
        """A digest of everything a chunk's result depends on, stored with its checkpoint: the data, key and
        arguments, the chunk's configs, and the group's traced program (so a changed ``build`` is noticed)."""
        configs = [{k: repr(v) for k, v in self.configs[int(i) // self.seeds].items()} for i in ids]
        chunk = json.dumps([self.inputs["data"], self.inputs["arguments"], self.traced_groups[group][0],
                            ids.tolist(), configs, epochs, start_epoch])
        return hashlib.sha256(chunk.encode()).hexdigest()

    @functools.cached_property
    def inputs(self) -> dict[str, str]:
        """Digests of what every process must pass alike and a chunk checkpoint depends on: the configs, the
        data, the key and arguments, and the programs ``build`` makes (computed once, on the host)."""
        data = hashlib.sha256()
        for array in self._data:
            data.update(np.ascontiguousarray(array).tobytes())
        arguments = repr((np.asarray(jax.random.key_data(self.key)).tolist(), self.seeds, self.batch_size,
                          self.shared_order, sorted(self.eval_sets), self.eval_batch_size, sorted(self.recorders)))
        configs = repr([sorted((k, repr(v)) for k, v in self.configs[i].items()) for i in range(len(self.configs))])
        programs = repr(sorted((repr(g), digest) for g, (digest, _) in self.traced_groups.items()))
        return {name: hashlib.sha256(text.encode()).hexdigest() if isinstance(text, str) else text.hexdigest()
                for name, text in (("configs", configs), ("data", data), ("arguments", arguments),
                                   ("programs", programs))}

    def _check_processes_agree(self) -> None:
        """Raises on every process if the processes were given different configs, data, arguments or builds:
        their rows would be trained and reported as other configs' (one all-gather per digest, once)."""
        differs = []
        for name, digest in self.inputs.items():
            value = int(digest[:15], 16)  # below 2**63: min == max over the processes means they all agree
            if multihost.smallest(value) != -multihost.smallest(-value):
                differs.append(name)
        if differs:
            raise ValueError(
                f"sweep: the {jax.process_count()} processes were given different {', '.join(differs)} "
                f"(process {jax.process_index()} holds {', '.join(self.inputs[n][:12] for n in differs)}). Every "
                f"process must call the sweep with the same configs (in the same order), data, key, arguments and "
                f"build, or results would be attributed to the wrong configs.")

    def result(self, trained: Trained, epochs: np.ndarray, wall_time: float, compile_time: float) -> SweepResult:
        """Reshapes row-wise outputs to ``(configs, seeds, ...)``; ``trained`` covers every row in order."""
        n = len(self.configs)
        history = {name: h.reshape(n, self.seeds, -1) for name, h in trained.history.items()}
        return SweepResult(self.configs, history, trained.diverged_at.reshape(n, self.seeds), np.asarray(epochs),
                           wall_time, compile_time)


@jax.jit
def _select_rows(rows: Row, source: Row, mask: jax.Array, picks: jax.Array) -> Row:
    """Row ``picks[i]`` of ``source`` in slot ``i`` where ``mask[i]``, else slot ``i`` of ``rows``."""
    return jax.tree.map(lambda a, b: jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), b[picks], a),
                        rows, source)


def run(
    build: Callable[[dict], Any],
    configs: Configs | Sequence[dict],
    data: Any,
    *,
    epochs: int,
    batch_size: int,
    seeds: int = 1,
    key: jax.Array | int = 0,
    shared_order: bool = True,
    chunk_size: int | None = None,
    memory_budget: int | None = None,
    eval_batch_size: int | None = None,
    devices: Sequence[Any] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = True,
    all_processes: bool = True,
    eval_sets: Mapping[str, Any] | None = None,
    recorders: Mapping[str, train.Recorder] | None = None,
) -> SweepResult | None:
    """Trains every configuration (times ``seeds``) together and returns their histories.

    Args:
        build: ``build(hp) -> Trial`` (or a dict of Trial fields); ``hp`` maps every field to a traced scalar
            (numeric fields) or its Python value (static fields). See :class:`~jaxnn.sweep.Trial`. Keep it a
            pure function of ``hp``: like ``jax.jit``, the sweep caches compiled programs per build function and
            static values, so a rerun with the same chunk sizes does not compile again (a chunk of another size
            is a new shape and compiles; the rungs of one halving share one size).
        configs: from :meth:`Space.sample` or :func:`grid`, or a list of dicts (numeric fields traced).
        data: a ``jaxnn.data`` Dataset (trains on ``train``, evaluates on ``val``, or ``test`` without one) or
            ``((x_train, y_train), (x_eval, y_eval))``.
        epochs: epochs per run; each drops the last partial minibatch.
        batch_size: minibatch size.
        seeds: runs per config, with init keys ``config_key(key, i, seed)``; results report mean and spread.
        key: the sweep's root key (or int seed): init keys, dropout keys and the shared minibatch order.
        shared_order: every run sees the same minibatches (common random numbers: differences between configs
            are not shuffling noise); False shuffles each run with its own key, as ``train.fit`` would.
        chunk_size: at most this many runs train at once (rounded up to a multiple of the device count);
            default: as many as ``memory_budget`` holds.
        memory_budget: bytes per device for one chunk; default half the device's free memory, 2 GiB on CPU.
        eval_batch_size: evaluation batch; default ``4 * batch_size``.
        devices: the devices to shard runs over; default ``jax.devices()``, which after
            ``jax.distributed.initialize()`` holds every process's devices (see ``docs/distributed.md``).
        checkpoint_dir: save every finished chunk there; rerunning the same sweep loads finished chunks instead
            of training them again (a different sweep in the same folder raises ValueError, also when only
            ``build`` changed: each chunk's fingerprint covers its group's traced train and eval steps).
        progress: report each chunk through ``train.Progress`` (a bar on a terminal, compact lines otherwise;
            on process 0 only).
        all_processes: with several processes, every one returns the result (default); False returns it on
            process 0 only and None on the others, e.g. so that one process alone saves tables and plots.
            Either way every process trains its share and takes part in gathering the histories.
        eval_sets: more named sets ``name -> (x, y)`` evaluated per epoch besides ``val`` (the Dataset's val or
            test split, or ``data[1]``), recorded as ``<name>_<metric>``.
        recorders: ``name -> fn(ts)`` recorded per epoch and run, e.g. ``{"hparams": train.record_hparams}``.

    Returns:
        A :class:`SweepResult` (None on processes other than 0 when ``all_processes`` is False).

    Raises:
        ValueError: empty configs, or an out-of-range epochs, batch_size, seeds, chunk_size or budget; with
            several processes, processes given different configs, data, arguments or builds (on every one).
        TypeError: ``build`` does not return a Trial (raised while tracing, naming what it returned).

    Example::

        result = sweep.run(build, configs, ds, epochs=5, batch_size=100)   # build, configs, ds: as in jaxnn.sweep
        result.best(5)
    """
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"sweep.run: epochs={epochs!r} must be an int >= 1.")
    start, compiled = time.perf_counter(), compile_seconds()
    sweep = Sweep(build, configs, data, batch_size=batch_size, seeds=seeds, key=key, shared_order=shared_order,
                  chunk_size=chunk_size, memory_budget=memory_budget, eval_batch_size=eval_batch_size,
                  devices=devices, progress=progress, eval_sets=eval_sets, recorders=recorders)
    trained = sweep.train(np.arange(len(sweep.configs) * seeds), epochs, checkpoint_dir=checkpoint_dir)
    if not (all_processes or multihost.is_main()):
        return None
    return sweep.result(trained, np.full(len(sweep.configs), epochs), time.perf_counter() - start,
                        compile_seconds() - compiled)


@functools.lru_cache(maxsize=256)
def _trace_program(program: Program, hp_dtypes: tuple, batches: tuple) -> tuple[str, list[str], list[str]]:
    """A group's train and eval steps traced from shapes (no FLOPs): a digest of their jaxprs (what ``build``
    made of the group: layers, activations, loss, ``l2``, metrics) and their metric names. Cached like the
    programs, so a rerun with the same build traces nothing again."""
    row = _row_shape(program, hp_dtypes)
    step, (_, metrics) = jax.make_jaxpr(program.step_one, return_shape=True)(row, list(batches[:2]))
    evaluate, out = jax.make_jaxpr(program.eval_one, return_shape=True)(row, list(batches[2:]))
    return train.checkpointing.program_digest(step, evaluate), list(metrics), list(out)


@functools.lru_cache(maxsize=256)
def _row_bytes(program: Program, hp_dtypes: tuple, batches: tuple) -> int:
    """:func:`memory.row_bytes` of a group, from its signature. Cached like :func:`_trace_program`: it traces
    the step, which cost a short sweep's call more than its training (0.16 s of 0.3 s at one config)."""
    return memory.row_bytes(_row_shape(program, hp_dtypes), program.step_one, program.eval_one,
                            list(batches[:2]), list(batches[2:]))


def _row_shape(program: Program, hp_dtypes: tuple) -> Row:
    hp = {name: jax.ShapeDtypeStruct((), dtype) for name, dtype in hp_dtypes}
    return jax.eval_shape(program.init_one, hp, jax.eval_shape(jax.random.key, 0))


def _splits(data: Any) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]:
    if hasattr(data, "train") and hasattr(data, "test"):
        name = "val" if data.val is not None else "test"
        return train.check_data(data.train, "data.train"), train.check_data(getattr(data, name), f"data.{name}")
    try:
        train_split, eval_split = data
    except (TypeError, ValueError):
        raise TypeError(f"sweep: data must be a jaxnn.data Dataset or ((x_train, y_train), (x_eval, y_eval)), "
                        f"got {type(data).__name__}.") from None
    return train.check_data(train_split, "data[0]"), train.check_data(eval_split, "data[1]")


def _check_args(build: Any, configs: Configs, n: int, batch_size: Any, seeds: Any, chunk_size: Any,
                memory_budget: Any, eval_batch_size: Any) -> None:
    if not callable(build):
        raise TypeError(f"sweep: build must be a function hp -> Trial, got {build!r}.")
    if not len(configs):
        raise ValueError("sweep: configs is empty; sample some (space.sample(key, n)) or list them (sweep.grid).")
    checks = [("batch_size", batch_size, 1 <= _int(batch_size) <= n, f"an int in [1, {n}] (training examples)"),
              ("seeds", seeds, _int(seeds) >= 1, "an int >= 1"),
              ("chunk_size", chunk_size, chunk_size is None or _int(chunk_size) >= 1, "None or an int >= 1"),
              ("memory_budget", memory_budget, memory_budget is None or _int(memory_budget) >= 1,
               "None or a number of bytes >= 1"),
              ("eval_batch_size", eval_batch_size, eval_batch_size is None or _int(eval_batch_size) >= 1,
               "None or an int >= 1")]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ValueError(f"sweep: {name}={value!r} must be {allowed}.")


def _int(value: Any) -> float:
    """``value`` if it is an int (not a bool), else -inf so that every range check fails."""
    return value if isinstance(value, int | np.integer) and not isinstance(value, bool) else -math.inf
