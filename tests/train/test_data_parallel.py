"""Data-parallel ``fit``: four forced host devices give the single-device run, up to float reassociation."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxnn import nn, optim, train

ROOT = Path(__file__).resolve().parents[2]

# BatchNorm makes a wrong split visible (per-device batch statistics would differ from the global ones), dropout
# checks that masks do not depend on the layout, and 102 examples leave a remainder batch of 6, which 4 devices
# cannot split evenly. Plain SGD with momentum keeps rounding differences as small as they start.
SCRIPT = textwrap.dedent("""
    import json
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from jaxnn import nn, optim, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(102, 5)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int32)
    model = nn.Sequential([nn.Dense(16), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(2)])
    opt = optim.sgd(0.1, momentum=0.9)
    step, eval_step = train.make_train_step(model, opt), train.make_eval_step(model)
    ts = train.create(model, opt, jax.random.key(0), (5,))
    kwargs = dict(epochs=2, batch_size=16, eval_data=(x[:40], y[:40]), eval_step=eval_step, drop_last=False,
                  progress=False)
    single, single_history = train.fit(ts, step, (x, y), **kwargs)
    parallel, parallel_history = train.fit(ts, step, (x, y), devices=jax.devices(), **kwargs)
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    put = lambda tree, spec: jax.device_put(tree, NamedSharding(mesh, spec))
    plan = train.epoch._Epoch(train.epoch.constant_step(step), False, 16, False, train.DataParallel(jax.devices()),
                              None)
    row = put(train.loop._one_row(ts), P())
    hlo = train.epoch._single_program(plan).lower(row, put(x, P()), put(y, P()), row.ts.key, 0, None)
    leaves = lambda t: jax.tree.leaves((t.params, t.model_state, t.opt_state))
    print(json.dumps({
        "devices": jax.device_count(),
        "params_on": sorted({len(leaf.sharding.device_set) for leaf in jax.tree.leaves(parallel.params)}),
        "replicated": all(leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(parallel.params)),
        "all_reduce": "all-reduce" in hlo.compile().as_text(),
        "state_diff": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                          for a, b in zip(leaves(single), leaves(parallel))),
        "steps": [int(single.step), int(parallel.step)],
        "single": {k: v for k, v in single_history.items() if k != "time"},
        "parallel": {k: v for k, v in parallel_history.items() if k != "time"},
    }))
""")


def test_data_parallel_fit_equals_the_single_device_run():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu",
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["devices"] == 4 and report["params_on"] == [4] and report["replicated"], report
    assert report["all_reduce"], "the sharded epoch should sum gradients across devices"
    assert report["steps"] == [14, 14]  # 6 full batches and the remainder, twice
    single, parallel = report["single"], report["parallel"]
    assert single.keys() == parallel.keys() and single["epoch"] == parallel["epoch"] == [1, 2]
    for name in single:
        np.testing.assert_allclose(parallel[name], single[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert report["state_diff"] < 1e-5, report


def test_batch_size_must_split_evenly_over_the_devices():
    model = nn.Sequential([nn.Dense(2)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (3,))
    data = (np.zeros((8, 3), np.float32), np.zeros(8, np.int32))
    with pytest.raises(ValueError, match=r"3 devices.*batch_size=4"):
        train.fit(ts, train.make_train_step(model, optim.sgd(0.1)), data, 1, 4, devices=jax.devices() * 3)
