"""Checks every config of a sweep with its concrete values on the host, before anything is traced or trained.

Inside the sweep ``build`` sees traced scalars, which the constructors' range checks cannot read, so
``optim.sgd(hp["lr"])`` would accept ``lr=-0.1`` there. Here ``build`` is called once per distinct config with
the values the sweep will trace (as NumPy scalars of their float32 or int32 dtype), so every check that
``optim.sgd(-0.1)`` makes outside a sweep runs for the sweep too, and so do the checks of the Trial it returns.
That costs a few host-side Python calls per config, nothing per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxnn.sweep.program import Hyperparameters
from jaxnn.sweep.space import Configs
from jaxnn.sweep.trial import Trial, as_trial
from jaxnn.validation import check_range

_REFUSALS = (ValueError, TypeError, OverflowError)
_SPLITS = ("", "train_", "val_", "test_")


def validate_configs(build: Callable[[dict], Any], configs: Configs) -> None:
    """Calls ``build`` on each config's concrete values and checks the Trial it returns.

    Args:
        build: the sweep's ``build(hp) -> Trial``.
        configs: the sweep's configs.

    Raises:
        ValueError: a constructor (or the Trial check ``l2 >= 0``) refuses config ``i``: the message names
            ``configs[i]``, the field and its value, then the refusal (a ``TypeError`` from ``build`` stays a
            ``TypeError``, with the same prefix). Also for a field named like a metric column (``val_loss``).

    Example::

        from jaxnn.sweep.validate import validate_configs

        model = nn.Sequential([nn.Dense(2)])
        validate_configs(lambda hp: sweep.Trial(model, optim.sgd(hp["lr"])), sweep.grid(lr=[0.1, 0.01]))   # fine
        # with lr=[0.1, -0.1]: ValueError: sweep: configs[1] has lr=-0.1, which build(hp) refuses: ...
    """
    seen: set[str] = set()
    for i, config in enumerate(configs):
        key = repr(sorted(config.items()))
        if key in seen:
            continue
        seen.add(key)
        values = {name: _concrete(configs, name, value) for name, value in config.items()}
        try:
            trial = _trial(build, values)
        except _REFUSALS as error:
            raise _refusal(build, configs, i, values, error) from error
        _check_columns(configs.names, trial.metrics)


def _concrete(configs: Configs, name: str, value: Any) -> Any:
    """``value`` as the sweep will trace it: a NumPy scalar of its field's dtype (with a tracer's ``dtype`` and
    ``astype``, so ``build`` can treat it as it treats the traced one), or a static value as it is."""
    spec = configs.specs[name]
    return value if spec.static else np.asarray(value, spec.dtype)[()]


def _trial(build: Callable[[dict], Any], hp: Mapping[str, Any]) -> Trial:
    trial = as_trial(build(Hyperparameters(hp)))
    check_range("l2", trial.l2, lambda v: v >= 0, "a number >= 0")
    return trial


def _check_columns(names: list[str], metrics: Mapping[str, Any]) -> None:
    """Fields may not share a name with a metric column of the result table (every split, with ``_std``)."""
    columns = {f"{split}{metric}{std}" for split in _SPLITS for metric in ["loss", *metrics] for std in ("", "_std")}
    clashes = [name for name in names if name in columns]
    if clashes:
        raise ValueError(f"sweep: field {clashes[0]!r} has the name of a metric column of the result table "
                         f"(metrics: {', '.join(['loss', *metrics])}, reported with the prefixes train_, val_ "
                         "and test_ and the suffix _std); rename the field.")


def _refusal(build: Callable[[dict], Any], configs: Configs, i: int, values: dict[str, Any],
             error: Exception) -> Exception:
    """The error for config ``i``, naming the traced field that alone makes ``build`` fail, when one does."""
    kind = TypeError if isinstance(error, TypeError) else ValueError
    name = _culprit(build, configs, values)
    if name is None:
        return kind(f"sweep: configs[{i}] = {configs[i]!r} is refused by build(hp): {error}")
    return kind(f"sweep: configs[{i}] has {name}={configs[i][name]!r}, which build(hp) refuses: {error} "
                "Change the space or grid so that every config is valid.")


def _culprit(build: Callable[[dict], Any], configs: Configs, values: dict[str, Any]) -> str | None:
    """The first traced field that fails on its own: ``build`` raises with that field concrete and the others
    traced (traced values pass every range check, as in the sweep), but not with all of them traced."""
    traced = [name for name in configs.names if not configs.specs[name].static]
    if _refused(build, configs, values, traced):
        return None  # not a value's fault: a static value, or build itself
    return next((name for name in traced if _refused(build, configs, values, [n for n in traced if n != name])),
                None)


def _refused(build: Callable[[dict], Any], configs: Configs, values: dict[str, Any], traced: list[str]) -> bool:
    """Whether ``build`` refuses ``values`` with the fields ``traced`` replaced by traced scalars."""
    try:
        jax.eval_shape(lambda t: _trial(build, {**values, **t}) and None,
                       {n: jax.ShapeDtypeStruct((), configs.specs[n].dtype) for n in traced})
    except _REFUSALS:
        return True
    return False
