"""XLA compilations by function name, from JAX's backend-compile events: what a piece of work compiled."""

import jax

_NAMES: list[str] = []


def _listen(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _NAMES.append(str(kwargs.get("fun_name")))


jax.monitoring.register_event_duration_secs_listener(_listen)  # once per test process, on first import


def per_call(monkeypatch, cls, method: str) -> list[list[str]]:
    """Wraps ``cls.method`` so that each call appends the names of what it compiled to the returned list."""
    calls: list[list[str]] = []
    original = getattr(cls, method)

    def wrapper(*args, **kwargs):
        before = len(_NAMES)
        out = original(*args, **kwargs)
        calls.append(_NAMES[before:])
        return out

    monkeypatch.setattr(cls, method, wrapper)
    return calls
