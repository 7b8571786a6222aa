"""One random draw per model init: every sample of :mod:`jaxnn.nn.init` is cut from it.

Each ``jax.random`` call site compiles its own hash (threefry) and, for normals, its own inverse error function,
so a model whose layers draw their weights one by one compiles one such computation per weight: for a small MLP
initialised inside a sweep that took longer to compile than its whole training step. :func:`draw_once` wraps a
layer's ``init`` (every :class:`~jaxnn.nn.layer.Layer` gets it) so that the outermost call first traces ``init``
from shapes alone, recording what the initializers ask for, then draws all standard normals (and all U(−1, 1)
samples) in one call, and runs ``init`` again with each request served its slice in call order.
Nested inits (a Sequential's layers) share the outermost call's draw.

The draw is ``u = jax.random.uniform(key, (n + m,), dtype, minval=nextafter(-1, 1), maxval=1)`` in the widest
requested dtype: the ``n`` standard normals asked for are ``√2 · erfinv(u[:n])`` (the inverse CDF, as
``jax.random.normal`` makes them), the ``m`` uniforms ``u[n:]``, each cut in call order and cast to the dtype
asked for. A layer's weights therefore depend on the model's ``key`` and on what the layers before it draw, not
on the key the containers hand that layer; initializers that call ``jax.random`` themselves still draw from the
key they get.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp

Request = tuple[str, tuple[int, ...], Any]
"""``(kind, shape, dtype)``: ``"normal"`` for N(0, 1), ``"uniform"`` for U(−1, 1)."""

_pool: contextvars.ContextVar[Any] = contextvars.ContextVar("jaxnn_init_pool", default=None)


class _Recorder:
    """Notes every request and answers with zeros of its shape (only its shape is used: it runs abstractly)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def take(self, request: Request) -> jax.Array:
        self.requests.append(request)
        return jnp.zeros(request[1], request[2])


class _Server:
    """Serves the recorded requests, in order, slices of one draw of ``key`` (:func:`_block`)."""

    def __init__(self, requests: list[Request], key: jax.Array):
        self.requests, self.served = requests, 0
        sizes = {kind: sum(math.prod(shape) for k, shape, _ in requests if k == kind) for kind in _KINDS}
        dtype = functools.reduce(jnp.promote_types, [dtype for _, _, dtype in requests])
        self.blocks = dict(zip(_KINDS, _block(key, sizes["normal"], sizes["uniform"], dtype)))
        self.offsets = dict.fromkeys(_KINDS, 0)

    def take(self, request: Request) -> jax.Array:
        if self.served >= len(self.requests) or request != self.requests[self.served]:
            expected = self.requests[self.served] if self.served < len(self.requests) else "no more draws"
            raise RuntimeError(f"nn.init: a layer's init asked for {request} where its trace from shapes asked "
                               f"for {expected}: init must draw the same samples every time it runs (no draws "
                               f"that depend on values, and no initializer inside an inner jax.jit).")
        kind, shape, dtype = request
        start, size = self.offsets[kind], math.prod(shape)
        self.offsets[kind], self.served = start + size, self.served + 1
        return self.blocks[kind][start:start + size].reshape(shape).astype(dtype)


_KINDS = ("normal", "uniform")


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _block(key: jax.Array, normals: int, uniforms: int, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """``normals`` N(0, 1) and ``uniforms`` U(−1, 1) samples from ONE uniform draw: the normals are its first
    part through the inverse CDF, √2 · erfinv(u) (as ``jax.random.normal`` computes them), the rest as drawn."""
    low = jax.lax.nextafter(jnp.array(-1.0, dtype), jnp.array(1.0, dtype))  # erfinv(-1) would be -inf
    u = jax.random.uniform(key, (normals + uniforms,), dtype, minval=low, maxval=1.0)
    return jnp.sqrt(jnp.array(2.0, dtype)) * jax.scipy.special.erfinv(u[:normals]), u[normals:]


def standard(kind: str, key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
    """N(0, 1) (``kind="normal"``) or U(−1, 1) (``"uniform"``) samples of ``shape``: within a layer's init a
    slice of its one draw, elsewhere drawn from ``key``."""
    pool = _pool.get()
    if pool is None and kind == "normal":
        return jax.random.normal(key, shape, dtype)
    if pool is None:
        return jax.random.uniform(key, shape, dtype, minval=-1.0, maxval=1.0)
    return pool.take((kind, tuple(int(n) for n in shape), jnp.dtype(dtype) if dtype is not None else
                      jnp.result_type(float)))


@contextlib.contextmanager
def _using(pool: Any) -> Iterator[Any]:
    token = _pool.set(pool)
    try:
        yield pool
    finally:
        _pool.reset(token)


def recording() -> contextlib.AbstractContextManager[_Recorder]:
    """Within it, initializers record their requests and return zeros: for tracing an init from shapes."""
    return _using(_Recorder())


def draw_once(init: Callable[..., Any]) -> Callable[..., Any]:
    """``init(key, input_shape)`` with every :mod:`jaxnn.nn.init` sample cut from one draw of ``key`` (see the
    module docstring); ``init`` itself when it already is one."""
    if getattr(init, "_draws_once", False):
        return init

    @functools.wraps(init)
    def wrapped(key: jax.Array, input_shape: Sequence[int]) -> Any:
        if _pool.get() is not None:  # inside a model's init: its outermost call draws for every layer
            return init(key, input_shape)
        with recording() as recorder:
            jax.eval_shape(lambda k: init(k, input_shape), key)
        if not recorder.requests:
            return init(key, input_shape)
        with _using(_Server(recorder.requests, key)) as server:
            out = init(key, input_shape)
        if server.served != len(server.requests):
            raise RuntimeError(f"nn.init: a layer's init asked for {server.served} draws where its trace from "
                               f"shapes asked for {len(server.requests)}: init must draw the same samples every "
                               f"time it runs.")
        return out

    wrapped._draws_once = True
    return wrapped
