"""Sharding the config axis over devices: four forced host devices give the single-device results."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json
    import jax
    import numpy as np
    from jaxnn import sweep
    from tests.sweep.common import BATCH, BUILD, CONFIGS, DATA

    configs = sweep.Configs(CONFIGS[:3], CONFIGS.specs)
    kwargs = dict(epochs=2, batch_size=BATCH, seeds=2, shared_order=False, progress=False)  # 6 rows, padded to 8
    sharded = sweep.run(BUILD, configs, DATA, **kwargs)
    single = sweep.run(BUILD, configs, DATA, devices=jax.devices()[:1], **kwargs)
    engine = sweep.engine.Sweep(BUILD, configs, DATA, batch_size=BATCH, seeds=2)
    rows = engine._initial((), np.array([0, 1, 2, 3, 4, 5, 5, 5]))
    w = rows.ts.params["0"]["w"]
    print(json.dumps({
        "devices": jax.device_count(),
        "rows_on": len(w.sharding.device_set),
        "shard_rows": [s.data.shape[0] for s in w.addressable_shards],
        "max_diff": max(float(np.nanmax(np.abs(sharded.history[k] - single.history[k]))) for k in single.history),
        "equal": all(np.array_equal(sharded.history[k], single.history[k], equal_nan=True) for k in single.history),
    }))
""")


def test_sharded_sweep_equals_the_single_device_run():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["devices"] == 4 and report["rows_on"] == 4 and report["shard_rows"] == [2, 2, 2, 2]
    assert report["max_diff"] < 1e-5, report
