"""Two processes given different inputs (issue 12 cause 7): every process raises naming what differs."""

import textwrap

from tests.sweep.test_multiprocess import _two_processes

# Process 1 builds the same configs in another order, which used to train and report them as each other.
WORKER = textwrap.dedent("""
    import sys
    import jax
    import numpy as np

    pid, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=pid,
                               initialization_timeout=120)
    from jaxnn import sweep
    from tests.sweep import test_multiprocess as t
    from tests.sweep.common import BUILD, CONFIGS, DATA

    order = range(len(CONFIGS)) if pid == 0 else reversed(range(len(CONFIGS)))
    configs = sweep.Configs([CONFIGS[i] for i in order], CONFIGS.specs)
    try:
        sweep.run(BUILD, configs, DATA, epochs=1, **t.KWARGS)
        message = "no error"
    except ValueError as error:
        message = str(error)
    np.savez(f"{out}/result_{pid}.npz", message=np.array(message))
    jax.distributed.shutdown()
""")


def test_processes_with_configs_in_another_order_all_raise(tmp_path):
    with _two_processes(tmp_path, WORKER) as wait:
        results = wait()
    for got in results:
        assert "processes were given different configs (" in str(got["message"]), got["message"]
        assert "data" not in str(got["message"]).split("(")[0]  # only the configs differ
