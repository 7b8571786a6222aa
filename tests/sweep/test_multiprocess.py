"""Two processes on 127.0.0.1 (gloo collectives, two host devices each) give the single-process results."""

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxnn import nn, optim, sweep, train
from tests.sweep.common import BATCH, BUILD, CONFIGS, DATA

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # seconds for both processes together; on a loaded 2-core machine they take about a minute
KWARGS = dict(batch_size=BATCH, shared_order=False, progress=False)
"""Shared by every sweep here: 4 configs on 4 devices, one chunk shape, so one compiled program serves all."""

# Each process runs the same program; only process_id differs. Rows spread over 4 devices on 2 processes.
WORKER = textwrap.dedent("""
    import sys
    import jax
    import numpy as np

    pid, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid,
                               initialization_timeout=120)
    from jaxnn import sweep, train
    from tests.sweep import test_multiprocess as t
    from tests.sweep.common import BUILD, CONFIGS, DATA

    assert (jax.process_count(), jax.device_count(), jax.local_device_count()) == (2, 4, 2)
    ran = sweep.run(BUILD, CONFIGS, DATA, epochs=2, checkpoint_dir=f"{out}/chunks", **t.KWARGS)
    # The same call again loads the chunks process 0 saved; only process 0 gets the result here.
    loaded = sweep.run(BUILD, CONFIGS, DATA, epochs=2, checkpoint_dir=f"{out}/chunks", all_processes=False,
                       **t.KWARGS)
    halved = sweep.successive_halving(BUILD, CONFIGS, DATA, eta=2, **t.KWARGS)
    # Two epochs, then a third resumed from process 0's checkpoint: every process must resume the same one.
    t.fit(devices=jax.devices(), epochs=2, checkpoint_dir=f"{out}/fit")
    ts, history = t.fit(devices=jax.devices(), epochs=3, checkpoint_dir=f"{out}/fit", resume=True)
    arrays = {f"run_{k}": v for k, v in ran.history.items()}
    arrays |= {f"halving_{k}": v for k, v in halved.history.items()}
    arrays |= {"run_diverged": ran.diverged_at, "halving_epochs": halved.epochs,
               "fit_loss": np.array(history["loss"]), "loaded_is_none": np.array(loaded is None)}
    arrays |= {f"fit_{i}": np.asarray(leaf) for i, leaf in enumerate(jax.tree.leaves(ts.params))}
    if loaded is not None:
        arrays |= {f"loaded_{k}": v for k, v in loaded.history.items()}
    np.savez(f"{out}/result_{pid}.npz", **arrays)
    jax.distributed.shutdown()
""")


def fit(epochs: int = 3, **kwargs):
    """A small fit with plain SGD, so that gradient rounding differences stay as small as they start."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(3), (4,))
    return train.fit(ts, train.make_train_step(model, optim.sgd(0.1)), (x, y), epochs, 16, progress=False,
                     **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _two_processes(tmp_path: Path, worker: str = WORKER):
    """Starts both workers; yields ``wait() -> [results of process 0, of process 1]``; always kills them."""
    script = tmp_path / "worker.py"
    script.write_text(worker)
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2",
               PYTHONPATH=str(ROOT))
    port, procs, logs = _free_port(), [], []
    deadline = time.monotonic() + TIMEOUT

    def wait() -> list[dict]:
        try:
            for p in procs:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"the two processes did not finish in {TIMEOUT} s:\n{_tails(tmp_path)}")
        assert [p.returncode for p in procs] == [0, 0], _tails(tmp_path)
        return [dict(np.load(tmp_path / f"result_{pid}.npz")) for pid in range(2)]

    try:
        for pid in range(2):
            logs.append(open(tmp_path / f"log_{pid}.txt", "w"))
            procs.append(subprocess.Popen([sys.executable, str(script), str(pid), str(port), str(tmp_path)],
                                          cwd=ROOT, env=env, stdout=logs[-1], stderr=subprocess.STDOUT))
        yield wait
    finally:  # A process left behind would hold the port and two cores.
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for log in logs:
            log.close()


def _tails(tmp_path: Path) -> str:
    return "\n".join(f"--- process {pid}:\n{(tmp_path / f'log_{pid}.txt').read_text()[-3000:]}" for pid in range(2))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_two_processes_give_the_single_process_results(tmp_path):
    with _two_processes(tmp_path) as wait:
        # The reference runs while the workers do: one process, one device.
        ran = sweep.run(BUILD, CONFIGS, DATA, epochs=2, **KWARGS)
        halved = sweep.successive_halving(BUILD, CONFIGS, DATA, eta=2, **KWARGS)
        ts, history = fit()
        results = wait()
    for pid, got in enumerate(results):
        for name, expected in ran.history.items():
            assert _close(got[f"run_{name}"], expected), (pid, name, got[f"run_{name}"], expected)
        for name, expected in halved.history.items():
            assert _close(got[f"halving_{name}"], expected), (pid, name)
        np.testing.assert_array_equal(got["run_diverged"], ran.diverged_at)
        np.testing.assert_array_equal(got["halving_epochs"], halved.epochs)
        np.testing.assert_allclose(got["fit_loss"], history["loss"], rtol=1e-5)
        for i, leaf in enumerate(jax.tree.leaves(ts.params)):
            np.testing.assert_allclose(got[f"fit_{i}"], leaf, rtol=1e-5, atol=1e-6)
    # The reloaded checkpoints hold the first run bit for bit, and only process 0 was handed the result.
    assert not results[0]["loaded_is_none"] and results[1]["loaded_is_none"]
    for name in ran.history:
        np.testing.assert_array_equal(results[0][f"loaded_{name}"], results[0][f"run_{name}"])
