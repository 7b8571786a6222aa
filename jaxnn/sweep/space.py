"""Search spaces: distributions over hyperparameters, a ``Space`` that samples them, and ``grid``.

A field is *traced* (a numeric value that one compiled program serves for every config, passed to ``build`` as
a traced scalar) or *static* (a Python value such as an optimizer name or a layer width, which changes the
program; configs are grouped by their static values). ``log_uniform``, ``uniform`` and numeric ``choice`` are
traced; ``fixed`` and non-numeric ``choice`` are static; ``int_uniform`` and ``choice`` take ``static=True``
for integers that shape the model.

Bounds are checked when the distribution meets its name, in :class:`Space` or :func:`grid`, so the error
names the field. NaN and Inf are refused there too (a NaN learning rate would train, diverge and rank as if it
were a result), and so are field names the result table uses for itself (:data:`RESERVED`).

Example::

    space = sweep.Space(lr=sweep.log_uniform(1e-4, 1e-1), dropout=sweep.uniform(0.0, 0.5),
                        width=sweep.choice([64, 128], static=True), optimizer=sweep.choice(["sgd", "adam"]))
    configs = space.sample(jax.random.key(0), 20)     # 20 dicts, e.g. {"lr": 0.0031, ..., "optimizer": "adam"}
    configs = sweep.grid(lr=[1e-3, 1e-2], optimizer=["sgd", "adam"])   # 4 dicts
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.validation import check_seed

RESERVED = ("rank", "index", "epochs", "diverged_at")
"""Columns of a sweep's result table (:meth:`SweepResult.rows`) beside the fields, so no field may be named so.
Metric columns (``val_loss``, ...) are known only from ``build``; the sweep checks those before training."""

EDGE = 0.05
"""A best value within this fraction of its range's width (log width for log fields) of an end is "at the edge"."""


def is_number(value: Any) -> bool:
    """True for real ints and floats (Python or NumPy), False for bools and everything else."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _key(key: jax.Array | int) -> jax.Array:
    return jax.random.key(check_seed("key", key)) if isinstance(key, int | np.integer) else key


class Distribution:
    """What every distribution provides; see the concrete classes below."""

    static: bool = False
    log: bool = False  # sampled (and plotted, and narrowed) in log space
    dtype: Any = jnp.float32  # of the traced value passed to build

    def validate(self, name: str) -> None:
        """Raises ValueError/TypeError naming field ``name`` when the parameters are unusable."""

    def sample(self, key: jax.Array, n: int) -> list[Any]:
        """``n`` independent draws as Python values (floats are exactly representable in float32)."""
        raise NotImplementedError

    def narrow(self, values: Sequence[Any]) -> Distribution:
        """The distribution restricted to the span of ``values`` (a :func:`fixed` when they are all equal)."""
        raise NotImplementedError

    def edge(self, value: Any) -> str | None:
        """``"low"`` or ``"high"`` when ``value`` sits at that end of the range, else None."""
        return None


def _position(value: float, low: float, high: float, log: bool) -> float:
    """Where ``value`` lies in ``[low, high]``, 0 to 1, measured in log space for log fields."""
    f = math.log if log else float
    return (f(value) - f(low)) / (f(high) - f(low))


def _edge(value: float, low: float, high: float, log: bool) -> str | None:
    t = _position(value, low, high, log)
    return "low" if t <= EDGE else "high" if t >= 1 - EDGE else None


def _check_bounds(kind: str, name: str, low: Any, high: Any, positive: bool = False) -> None:
    if not (is_number(low) and is_number(high) and math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name}: {kind}(low={low!r}, high={high!r}) needs two finite numbers.")
    if low >= high:
        raise ValueError(f"{name}: {kind}(low={low!r}, high={high!r}) needs low < high.")
    if positive and low <= 0:
        raise ValueError(f"{name}: {kind}(low={low!r}, high={high!r}) needs low > 0 (it samples log(value)).")


def _check_finite(kind: str, name: str, values: Sequence[Any]) -> None:
    bad = [v for v in values if is_number(v) and not math.isfinite(v)]
    if bad:
        raise ValueError(f"{name}: {kind} holds {float(bad[0])}; numeric values must be finite (NaN or Inf would "
                         f"train, diverge and be ranked as a result).")


def _float32s(values: jax.Array) -> list[float]:
    return [float(v) for v in np.asarray(values, np.float32)]


@dataclass(frozen=True)
class LogUniform(Distribution):
    """``exp(U(log low, log high))``: every decade of ``[low, high]`` equally likely."""

    low: float
    high: float
    log = True

    def validate(self, name: str) -> None:
        _check_bounds("log_uniform", name, self.low, self.high, positive=True)

    def sample(self, key: jax.Array, n: int) -> list[float]:
        lo, hi = jnp.float32(self.low), jnp.float32(self.high)
        u = jax.random.uniform(key, (n,), jnp.float32, jnp.log(lo), jnp.log(hi))
        return _float32s(jnp.clip(jnp.exp(u), lo, hi))  # exp may round past an end

    def narrow(self, values: Sequence[float]) -> Distribution:
        return LogUniform(min(values), max(values)) if min(values) < max(values) else Fixed(values[0])

    def edge(self, value: float) -> str | None:
        return _edge(value, self.low, self.high, log=True)


@dataclass(frozen=True)
class Uniform(Distribution):
    """``U(low, high)``."""

    low: float
    high: float

    def validate(self, name: str) -> None:
        _check_bounds("uniform", name, self.low, self.high)

    def sample(self, key: jax.Array, n: int) -> list[float]:
        lo, hi = jnp.float32(self.low), jnp.float32(self.high)
        return _float32s(jnp.clip(jax.random.uniform(key, (n,), jnp.float32, lo, hi), lo, hi))

    def narrow(self, values: Sequence[float]) -> Distribution:
        return Uniform(min(values), max(values)) if min(values) < max(values) else Fixed(values[0])

    def edge(self, value: float) -> str | None:
        return _edge(value, self.low, self.high, log=False)


@dataclass(frozen=True)
class IntUniform(Distribution):
    """A uniform integer in ``[low, high]``, both ends included (like ``random.randint``)."""

    low: int
    high: int
    static: bool = False
    dtype = jnp.int32

    def validate(self, name: str) -> None:
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in (self.low, self.high)):
            raise ValueError(f"{name}: int_uniform(low={self.low!r}, high={self.high!r}) needs two ints.")
        _check_bounds("int_uniform", name, self.low, self.high)

    def sample(self, key: jax.Array, n: int) -> list[int]:
        return [int(v) for v in np.asarray(jax.random.randint(key, (n,), self.low, self.high + 1))]

    def narrow(self, values: Sequence[int]) -> Distribution:
        lo, hi = min(values), max(values)
        return IntUniform(lo, hi, self.static) if lo < hi else Fixed(lo)

    def edge(self, value: int) -> str | None:
        return _edge(value, self.low, self.high, log=False)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``options``, each equally likely. Traced when every option is a number, unless ``static``."""

    options: tuple
    static: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))

    @property
    def log(self) -> bool:  # numeric options spanning a decade or more, e.g. a grid of learning rates
        return not self.static and min(self.options) > 0 and max(self.options) >= 10 * min(self.options)

    @property
    def dtype(self) -> Any:
        return jnp.int32 if all(isinstance(v, int | np.integer) for v in self.options) else jnp.float32

    def validate(self, name: str) -> None:
        if not self.options:
            raise ValueError(f"{name}: choice([]) has no options; give at least one.")
        if not self.static and not all(map(is_number, self.options)):
            raise ValueError(f"{name}: choice(static=False) needs numeric options, got {list(self.options)!r}.")
        _check_finite(f"choice({list(self.options)!r})", name, self.options)

    def sample(self, key: jax.Array, n: int) -> list[Any]:
        picks = np.asarray(jax.random.randint(key, (n,), 0, len(self.options)))
        return [self.options[i] for i in picks]

    def narrow(self, values: Sequence[Any]) -> Distribution:
        kept = tuple(o for o in self.options if any(_same(o, v) for v in values))
        return Choice(kept, self.static)

    def edge(self, value: Any) -> str | None:
        numbers = sorted({float(o) for o in self.options}) if all(map(is_number, self.options)) else []
        if len(numbers) < 2:
            return None
        return "low" if float(value) == numbers[0] else "high" if float(value) == numbers[-1] else None


@dataclass(frozen=True)
class Fixed(Distribution):
    """Always ``value``; passed to ``build`` as the Python value itself (static)."""

    value: Any
    static = True

    def validate(self, name: str) -> None:
        _check_finite(f"fixed({self.value!r})", name, [self.value])

    def sample(self, key: jax.Array, n: int) -> list[Any]:
        return [self.value] * n

    def narrow(self, values: Sequence[Any]) -> Distribution:
        return self


def _same(a: Any, b: Any) -> bool:
    # Static options may be arrays or functions: identity first, then equality where it is a plain bool.
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def log_uniform(low: float, high: float) -> Distribution:
    """Log-uniform on ``[low, high]``, ``0 < low < high`` (learning rates, weight decay). Traced float32."""
    return LogUniform(low, high)


def uniform(low: float, high: float) -> Distribution:
    """Uniform on ``[low, high]``, ``low < high`` (dropout rates, momentum). Traced float32."""
    return Uniform(low, high)


def int_uniform(low: int, high: int, *, static: bool = False) -> Distribution:
    """A uniform integer in ``[low, high]`` inclusive. Traced int32 unless ``static`` (widths, depths)."""
    return IntUniform(low, high, static)


def choice(options: Sequence[Any], *, static: bool | None = None) -> Distribution:
    """One of ``options``. Default: traced when all are numbers, static otherwise (``["sgd", "adam"]``)."""
    options = tuple(options)
    if static is None:
        static = not (options and all(map(is_number, options)))
    return Choice(options, static)


def fixed(value: Any) -> Distribution:
    """A constant, passed to ``build`` as is (static)."""
    return Fixed(value)


def _checked(fields: Mapping[str, Any], where: str) -> dict[str, Distribution]:
    for name, spec in fields.items():
        if name in RESERVED:
            raise ValueError(f"{where}: a field may not be named {name!r}: the sweep's result table has a column "
                             f"{name!r} of its own (reserved: {', '.join(RESERVED)}); rename the field.")
        if not isinstance(spec, Distribution):
            raise TypeError(f"{where}: field {name!r} is {spec!r}; pass a distribution such as "
                            f"sweep.log_uniform(1e-4, 1e-1), sweep.choice([...]) or sweep.fixed(value).")
        spec.validate(name)
    return dict(fields)


class Configs(Sequence[dict]):
    """A list of configurations (dicts ``field -> value``) and the distributions they came from.

    ``specs`` tell the engine which fields are static and which dtype a traced field has, and tell the plots
    and :func:`~jaxnn.sweep.coarse_to_fine` which fields live in log space. Build one with
    :meth:`Space.sample`, :func:`grid` or, from plain dicts, :meth:`from_dicts`.
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]], specs: Mapping[str, Distribution]):
        self.specs = _checked(specs, "Configs")
        self.rows = [dict(row) for row in rows]
        for i, row in enumerate(self.rows):
            if set(row) != set(self.specs):
                raise ValueError(f"configs[{i}] has fields {sorted(row)}, expected {sorted(self.specs)}.")

    @classmethod
    def from_dicts(cls, rows: Sequence[Mapping[str, Any]]) -> Configs:
        """Configs from plain dicts: fields whose values are all numbers are traced, the others static."""
        names = list(rows[0]) if rows else []
        specs = {name: choice(list(_unique(row.get(name) for row in rows))) for name in names}
        return cls(rows, _checked(specs, "Configs.from_dicts"))

    @property
    def names(self) -> list[str]:
        return list(self.specs)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: Any) -> Any:
        return self.rows[i]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"Configs({len(self)} configs over {self.names})"


def _unique(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(_same(v, o) for o in out):
            out.append(v)
    return out


class Space:
    """Named distributions to sample configurations from.

    Example::

        space = sweep.Space(lr=sweep.log_uniform(1e-6, 1e-2), optimizer=sweep.choice(["sgd", "adam"]))
        configs = space.sample(jax.random.key(0), 100)

    Raises:
        ValueError: naming the field, for bad bounds or an empty choice; also for a space without fields.
    """

    def __init__(self, **fields: Distribution):
        if not fields:
            raise ValueError("Space() has no fields; pass at least one, e.g. lr=sweep.log_uniform(1e-4, 1e-1).")
        self.fields = _checked(fields, "Space")

    def sample(self, key: jax.Array | int, n: int) -> Configs:
        """``n`` configurations; field ``i`` draws from ``fold_in(key, i)``, so adding a field to the end of a
        space leaves the others' draws unchanged."""
        if not (isinstance(n, int | np.integer) and n >= 1):
            raise ValueError(f"Space.sample: n={n!r} must be an int >= 1.")
        key = _key(key)
        columns = {name: spec.sample(jax.random.fold_in(key, i), int(n))
                   for i, (name, spec) in enumerate(self.fields.items())}
        return Configs([{name: columns[name][j] for name in self.fields} for j in range(n)], self.fields)

    def __repr__(self) -> str:
        return "Space(" + ", ".join(f"{name}={spec!r}" for name, spec in self.fields.items()) + ")"


def grid(**axes: Any) -> Configs:
    """Every combination of the given values, the last field varying fastest.

    Each axis is a list of values (traced when all are numbers, else static), a :func:`choice` (to force
    ``static=True``, e.g. for widths) or a :func:`fixed`.

    Example::

        configs = sweep.grid(lr=[1e-3, 1e-2, 1e-1], width=sweep.choice([32, 64], static=True))   # 6 configs
    """
    if not axes:
        raise ValueError("grid() has no axes; pass at least one, e.g. lr=[1e-3, 1e-2].")
    specs: dict[str, Distribution] = {}
    for name, axis in axes.items():
        if isinstance(axis, list | tuple):
            axis = choice(axis)
        if not isinstance(axis, Choice | Fixed):
            raise TypeError(f"grid: field {name!r} is {axis!r}; pass a list of values, sweep.choice(...) or "
                            f"sweep.fixed(...) (sample continuous distributions with sweep.Space).")
        specs[name] = axis
    specs = _checked(specs, "grid")
    values = [spec.options if isinstance(spec, Choice) else (spec.value,) for spec in specs.values()]
    return Configs([dict(zip(specs, combo)) for combo in itertools.product(*values)], specs)
