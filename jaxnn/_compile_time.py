"""Seconds this process spends tracing, lowering and compiling JAX programs, counted from first use.

``jax.monitoring`` has no scoped or removable listener, so importing jaxnn must not register one (it would
stay for the life of the process, on every event of every library). The listener is registered by the first
call of :func:`compile_seconds`; callers time a piece of work by the difference of two calls around it.
"""

from __future__ import annotations

import threading
from typing import Any

import jax

_EVENTS = frozenset({
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
})
_total = [0.0]
_registered = [False]
_lock = threading.Lock()


def _on_duration(event: str, duration: float, **kwargs: Any) -> None:
    if event in _EVENTS:
        _total[0] += duration


def compile_seconds() -> float:
    """Seconds spent tracing, lowering and compiling since the first call (which returns 0.0).

    Returns:
        The running total; the difference of two calls is the compile time of what ran between them
        (loading an executable from the persistent compilation cache counts as its compile).

    Example::

        from jaxnn._compile_time import compile_seconds

        before = compile_seconds()
        jax.jit(lambda x: x + 1)(1.0)
        print(compile_seconds() - before)
    """
    with _lock:
        if not _registered[0]:
            jax.monitoring.register_event_duration_secs_listener(_on_duration)
            _registered[0] = True
    return _total[0]
