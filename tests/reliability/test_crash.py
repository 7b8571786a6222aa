"""Nothing lost: a run killed with SIGKILL (between checkpoints or in the middle of writing one) and resumed ends
bitwise identical to an uninterrupted run, and no partial checkpoint is ever loaded.

The training runs in child processes (a script written into ``tmp_path``) so that the kill is a real SIGKILL.
The sweep-level and divergence guarantees are tested in tests/sweep/test_run.py (see docs/reliability.md).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jaxnn
from jaxnn import checkpoint

EPOCHS = 6
ROOT = str(Path(jaxnn.__file__).parents[1])  # the child imports this checkout of jaxnn
TIMEOUT = 60.0  # seconds for any one child: far above its few seconds of work, bounds a hung child

# The child trains a small BatchNorm + Dropout MLP with fit(..., checkpoint_dir, resume=True) and writes the bytes
# of its final TrainState. Two env vars slow it down so the parent can kill it at a chosen point; neither touches
# the numbers: CRASH_EPOCH_SLEEP sleeps in fit's callback (between epochs), CRASH_SLOW_WRITE=<epoch> monkeypatches
# os.replace inside jaxnn.checkpoint so that checkpoint <epoch> sleeps after its temporary file is written and
# flushed but before the rename that would publish it.
CHILD = """
import os, sys, time
import jax, numpy as np
from jaxnn import checkpoint, nn, optim, train

slow_write = int(os.environ.get("CRASH_SLOW_WRITE", "0"))
if slow_write:
    class _SlowOs:
        def __getattr__(self, name):
            return getattr(os, name)

        def replace(self, src, dst):
            if dst.endswith(f"ckpt_{slow_write:09d}.jaxnn"):
                open(dst + ".writing", "w").close()  # tells the parent the temporary file is complete
                time.sleep(60)
            os.replace(src, dst)

    checkpoint.os = _SlowOs()

model = nn.Sequential([nn.Dense(16), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(3)])
rng = np.random.default_rng(0)
x = rng.normal(size=(60, 5)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5)
opt = optim.adam(0.05)
ts = train.create(model, opt, jax.random.key(1), (5,))
pause = float(os.environ.get("CRASH_EPOCH_SLEEP", "0"))

def callback(epoch, record):
    with open(os.path.join(sys.argv[1], f"trained_by_{os.getpid()}.txt"), "a") as f:
        f.write(f"{epoch}\\n")  # which epochs this child trained, to prove that a resume skips finished ones
    time.sleep(pause)

ts, history = train.fit(ts, train.make_train_step(model, opt), (x, y), epochs=int(sys.argv[2]), batch_size=16,
                        progress=False, callbacks=callback, checkpoint_dir=sys.argv[1], resume=True)
ts = ts._replace(key=jax.random.key_data(ts.key))
with open(os.path.join(sys.argv[1], "final.bin"), "wb") as f:
    f.write(b"".join(np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(ts)))
    f.write(repr(history["loss"]).encode())
"""


def _start(script: Path, directory: Path, **env: str) -> subprocess.Popen:
    # A persistent compilation cache beside the script: the first child compiles, the others start in seconds.
    cache = {"JAX_COMPILATION_CACHE_DIR": str(script.parent / "jax_cache"),
             "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    directory.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, str(script), str(directory), str(EPOCHS)],
                            env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT, **cache, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(script: Path, directory: Path) -> tuple[bytes, list[int]]:
    """Runs a child to the end; returns the bytes of its final state and the epochs it trained itself."""
    child = _start(script, directory)
    try:
        out, _ = child.communicate(timeout=TIMEOUT)
    finally:
        child.kill()
    assert child.returncode == 0, out.decode()
    return (directory / "final.bin").read_bytes(), _trained(directory, child)


def _trained(directory: Path, child: subprocess.Popen) -> list[int]:
    log = directory / f"trained_by_{child.pid}.txt"
    return [int(line) for line in log.read_text().split()] if log.exists() else []


def _kill_when(child: subprocess.Popen, ready) -> None:
    """SIGKILLs ``child`` as soon as ``ready()`` holds; fails if it exits first or takes longer than TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while not ready():
            assert child.poll() is None, f"the child exited ({child.returncode}) before the kill point"
            assert time.monotonic() < deadline, "the child never reached the kill point"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(TIMEOUT)
        assert child.returncode == -signal.SIGKILL
    finally:
        child.kill()
        child.communicate()


def _steps(directory: Path) -> list[int]:
    return sorted(int(p.name[5:14]) for p in directory.glob("ckpt_*.jaxnn"))


def test_killed_between_epochs_then_mid_write_resumes_bitwise(tmp_path):
    # One chain of children keeps the file fast: each child costs seconds of start-up on a loaded machine.
    script, run = tmp_path / "child.py", tmp_path / "run"
    script.write_text(CHILD)
    uninterrupted, trained = _finish(script, tmp_path / "uninterrupted")
    assert trained == list(range(1, EPOCHS + 1))

    # 1. SIGKILL between epochs, as soon as the first checkpoint is published.
    _kill_when(_start(script, run, CRASH_EPOCH_SLEEP="0.5"), lambda: bool(_steps(run)))
    first = _steps(run)[-1]
    assert 1 <= first < EPOCHS - 2 and not (run / "final.bin").exists()

    # 2. Resume, then SIGKILL while checkpoint `first + 2` is written but not yet renamed into place.
    torn = first + 2
    published = run / f"ckpt_{torn:09d}.jaxnn"
    child = _start(script, run, CRASH_SLOW_WRITE=str(torn))
    _kill_when(child, Path(f"{published}.writing").exists)
    assert _trained(run, child) == [first + 1, torn]  # it resumed after the last published checkpoint
    partial = list(run.glob(f".{published.name}.*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0  # the kill left a complete but unpublished file
    assert not published.exists() and _steps(run)[-1] == torn - 1  # the resumed child did checkpoint torn - 1
    assert checkpoint.latest(run) == str(run / f"ckpt_{torn - 1:09d}.jaxnn")  # the partial file is never picked

    # 3. Resume to the end: the same bits, final metrics included, as the run that was never interrupted.
    assert _finish(script, run) == (uninterrupted, list(range(torn, EPOCHS + 1)))
    assert _steps(run) == [EPOCHS - 2, EPOCHS - 1, EPOCHS]
