"""Load: a sweep of 1,024 small configs on the CPU, chunked automatically within the default memory budget.

A child process runs the sweep, so its peak resident memory (its own ``RUSAGE_SELF``: the pytest process and
earlier children do not count) is the sweep's, jax's import included; it reports configs per second with and
without compilation and the number of chunks (one checkpoint file per chunk). The numbers are printed (run with
``-s``) for docs/benchmarks.md.
"""

import json
import subprocess
import sys
from pathlib import Path

import jaxnn

ROOT = str(Path(jaxnn.__file__).parents[1])
CONFIGS = 1024
PEAK_LIMIT = 2 << 30  # the CPU budget (jaxnn.sweep.memory.CPU_BUDGET): the whole process must stay below it

# 1,024 (lr, weight decay) samples of one MLP on 512 examples of 16 features, 2 epochs of batch 64: small enough
# for a test, large enough that the vmapped program, not Python, dominates.
CHILD = """
import json, os, resource, sys, time
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
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
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
