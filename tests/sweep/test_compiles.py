"""What a sweep compiles: a fresh process's first call a few XLA programs, a second sweep of the same build none."""

import json

from tests.child import run_python

FIRST_CALL_PROGRAMS = 2
"""At most this many, as a hand-written jit(vmap) sweep: init (the row keys, params, optimizer states and the
shared order's key) and the epoch (its permutation, steps, means and the evaluation of every set). Before: 35, one
per eager op and random call, then 7."""

SNIPPET = """
import json

import jax
import numpy as np

from jaxnn import nn, optim, sweep

jax.config.update("jax_enable_compilation_cache", False)
programs = []


def listen(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        programs.append(kwargs.get("fun_name"))


jax.monitoring.register_event_duration_secs_listener(listen)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int32)
model = nn.Sequential([nn.Dense(8, w_init=nn.init.he_normal()), nn.relu, nn.Dense(8, b_init=nn.init.uniform(0.1)),
                       nn.relu, nn.Dense(2)])


def build(hp):
    return sweep.Trial(model, optim.adam(hp["lr"]))


calls = []
for _ in range(2):
    before = len(programs)
    # 10 eval examples in batches of at most 4: five equal batches of 2, no smaller last batch to compile.
    sweep.run(build, [{"lr": 1e-3}, {"lr": 1e-2}, {"lr": 3e-2}], ((x, y), (x[:10], y[:10])), epochs=2,
              batch_size=16, eval_batch_size=4, progress=False)
    calls.append(programs[before:])
print(json.dumps(calls))
"""


def test_a_first_sweep_compiles_a_few_programs_and_a_second_one_none():
    first, second = json.loads(run_python(SNIPPET).stdout.strip().splitlines()[-1])
    assert len(first) <= FIRST_CALL_PROGRAMS, first
    assert second == [], second


def test_an_int_key_becomes_the_key_jax_random_key_makes():
    import jax
    import numpy as np

    from jaxnn.sweep.engine import root_key

    for seed in (0, 1, 12345, 2**31, 2**32 - 1):
        np.testing.assert_array_equal(jax.random.key_data(root_key(seed)), jax.random.key_data(jax.random.key(seed)))
