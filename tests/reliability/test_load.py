"""Load: a sweep of 1,024 small configs on the CPU, chunked automatically within the default memory budget.

A child process runs the sweep, so its peak resident memory is the sweep's, jax's import included; it reports
configs per second with and without compilation and the number of chunks (one checkpoint file per chunk). The
numbers are printed (run with ``-s``) for docs/benchmarks.md.

The peak is the child's ``VmHWM`` (the high-water mark of its own address space), not ``getrusage``'s
``ru_maxrss``: Linux carries ``ru_maxrss`` over from the parent through fork and exec, so a child of a pytest
process that had grown to 3 GiB in a full-suite run reported 2.97 GiB while the sweep itself peaked at about
460 MiB, as it does in every run on its own (issue 12, cause 13).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import jaxnn

ROOT = str(Path(jaxnn.__file__).parents[1])
CONFIGS = 1024
PEAK_LIMIT = 2 << 30  # the CPU budget (jaxnn.sweep.memory.CPU_BUDGET): the whole process must stay below it

PEAK = """
import re
def peak_rss():  # bytes: the high-water mark of this process's own memory, whatever its parent used
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())[1]) * 1024
"""

# 1,024 (lr, weight decay) samples of one MLP on 512 examples of 16 features, 2 epochs of batch 64: small enough
# for a test, large enough that the vmapped program, not Python, dominates.
CHILD = PEAK + """
import json, os, sys, time
import numpy as np
from jaxnn import nn, optim, sweep

rng = np.random.default_rng(0)
def blobs(n):
    x = rng.normal(size=(n, 16)).astype(np.float32)
    return x, (x[:, :4].sum(1) > 0).astype(np.int32)

def build(hp):
    return sweep.Trial(nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(2)]), optim.momentum(hp["lr"]), l2=hp["wd"])

space = sweep.Space(lr=sweep.log_uniform(1e-3, 1.0), wd=sweep.uniform(0.0, 1e-3))
configs = space.sample(0, int(sys.argv[2]))
start = time.perf_counter()
result = sweep.run(build, configs, (blobs(512), blobs(128)), epochs=2, batch_size=64, progress=False,
                   checkpoint_dir=sys.argv[1])
wall = time.perf_counter() - start
chunks = len([n for n in os.listdir(sys.argv[1]) if n.startswith("chunk_")])
peak = peak_rss()
print(json.dumps({"configs": len(configs), "chunks": chunks, "wall_s": wall, "compile_s": result.compile_time,
                  "peak_rss_bytes": peak, "train_configs_per_s": len(configs) / (wall - result.compile_time),
                  "configs_per_s": len(configs) / wall, "finite": int(np.isfinite(result.final["val_loss"]).sum()),
                  "best_val_accuracy": float(np.nanmax(result.final["val_accuracy"]))}))
"""


def test_1024_configs_complete_within_the_default_budget(tmp_path):
    script = tmp_path / "load.py"
    script.write_text(CHILD)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "ckpt"), str(CONFIGS)], capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu", "PATH": ""})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    print({**report, "peak_rss_mib": report["peak_rss_bytes"] / 2**20})
    assert report["configs"] == CONFIGS and report["chunks"] >= 1
    # Every config trained: lr <= 1 on this easy problem, so none diverges and most learn it.
    assert report["finite"] == CONFIGS and report["best_val_accuracy"] > 0.8
    assert 0 < report["peak_rss_bytes"] < PEAK_LIMIT


def test_the_peak_is_the_childs_own_not_its_parents():
    held = np.ones(1 << 25)  # 256 MiB touched by this (parent) process
    done = subprocess.run([sys.executable, "-c", PEAK + "print(peak_rss())"], capture_output=True, text=True,
                          timeout=60, check=True)
    assert int(done.stdout) < held.nbytes / 2  # ru_maxrss would report at least held.nbytes here
