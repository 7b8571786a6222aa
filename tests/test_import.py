"""``import jaxnn`` stays light and side-effect free: no matplotlib, no process-wide ``jax.monitoring`` listener."""

import json

from tests.child import run_python


def test_import_does_not_load_matplotlib():
    out = run_python("""
        import sys
        import jaxnn
        print("matplotlib" in sys.modules)
    """).stdout
    assert out.split() == ["False"]


# Records every jax.monitoring registration made after this point, then counts compile seconds as sweep.run does.
COUNT_LISTENERS = """
    import json
    import jax
    calls = []
    for name in ("register_event_listener", "register_event_duration_secs_listener"):
        def spy(listener, _real=getattr(jax.monitoring, name), _name=name):
            calls.append(_name)
            return _real(listener)
        setattr(jax.monitoring, name, spy)
    import jaxnn
    at_import = list(calls)
    from jaxnn.sweep import engine
    first = engine.compile_seconds()
    jax.jit(lambda x: x * 2 + 1)(jax.numpy.ones(3)).block_until_ready()
    compiled = engine.compile_seconds() - first
    engine.compile_seconds()
    print(json.dumps({"at_import": at_import, "after_use": calls, "first": first, "compiled": compiled}))
"""


def test_import_registers_no_monitoring_listener_and_first_use_registers_one():
    out = json.loads(run_python(COUNT_LISTENERS).stdout)
    assert out["at_import"] == []
    assert out["after_use"] == ["register_event_duration_secs_listener"]  # once, however often it is called
    assert out["first"] == 0.0
    assert out["compiled"] > 0.0  # the jit's trace, lowering and compile were counted
