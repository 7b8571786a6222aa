"""Flax (linen and NNX) and Equinox models as ordinary jaxnn layers.

Each adapter returns a :class:`~jaxnn.nn.Layer`, so ``train.fit``, ``sweep.run``, checkpoints and the stacked
trainer work on the model unchanged. The trainable arrays become ``params`` and the running statistics
``state``, both plain dicts; ``apply(..., train=True, key=key)`` turns the layer key into the library's
dropout randomness and ``train`` into its mode switch. flax and equinox are imported only when an adapter is
called, so ``import jaxnn`` works without them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn.layer import Layer, Params, Shape, State

_TRAIN_NAMES = ("train", "training", "is_training")
_EVAL_NAMES = ("deterministic", "use_running_average", "inference")


def from_flax(
    module: Any,
    *,
    train_args: str | Sequence[str] | None = None,
    eval_args: str | Sequence[str] | None = None,
    rngs: Sequence[str] = ("dropout",),
) -> Layer:
    """Wraps a Flax linen ``Module`` as a jaxnn layer.

    ``init(key, input_shape)`` runs ``module.init({"params": key}, zeros((1, *input_shape)))`` in evaluation
    mode; the ``params`` collection becomes the layer's params and every other collection (``batch_stats``)
    its state. ``apply(params, state, x, train=..., key=...)`` calls ``module.apply`` with ``train`` passed to
    each argument named in ``train_args`` and ``not train`` to each in ``eval_args``; in training the state
    collections are mutable and come back updated, and ``key`` is the ``rngs`` stream (with several names,
    ``jax.random.split(key, len(rngs))`` in order). So ``rngs={"dropout": key}`` in a hand-written loop draws
    the masks this layer draws.

    Args:
        module: a ``flax.linen.Module`` taking the batched input first.
        train_args: ``__call__`` arguments that receive ``train``. Default: those of ``__call__`` named
            ``train``, ``training`` or ``is_training``.
        eval_args: ``__call__`` arguments that receive ``not train``. Default: those named ``deterministic``,
            ``use_running_average`` or ``inference``.
        rngs: the RNG stream names the module draws from in training.

    Returns:
        A :class:`~jaxnn.nn.Layer`.

    Raises:
        ValueError: if a named argument is not a parameter of ``module.__call__``.
        TypeError: if ``module`` is not a linen Module.

    Example::

        import flax.linen as fnn

        class MLP(fnn.Module):
            @fnn.compact
            def __call__(self, x, train: bool):
                x = fnn.relu(fnn.BatchNorm(use_running_average=not train)(fnn.Dense(32)(x)))
                return fnn.Dense(10)(fnn.Dropout(0.1, deterministic=not train)(x))

        layer = nn.from_flax(MLP())                      # train_args=("train",) found by name
        params, state = layer.init(jax.random.key(0), (784,))   # state: {"batch_stats": ...}
    """
    import flax.core
    import flax.linen

    if not isinstance(module, flax.linen.Module):
        raise TypeError(f"from_flax: module must be a flax.linen.Module, got {module!r:.200}; for NNX use "
                        "nn.from_nnx, for Equinox nn.from_equinox.")
    flags = _mode_flags(module.__call__, "from_flax", train_args, eval_args)
    streams = tuple(rngs)

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        variables = flax.core.unfreeze(module.init({"params": key}, _example(input_shape), **flags(False)))
        params = variables.pop("params", {})
        return params, variables

    def apply(params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
              ) -> tuple[jax.Array, State]:
        variables = {"params": params, **state}
        keys = {} if key is None else _stream_keys(key, streams)
        if not train:
            return module.apply(variables, x, rngs=keys, **flags(False)), state
        y, new_state = module.apply(variables, x, rngs=keys, mutable=list(state), **flags(True))
        return y, flax.core.unfreeze(new_state)

    return Layer(init, apply)


def from_nnx(model: Any, *, key_streams: Sequence[str] = ("dropout",)) -> Layer:
    """Wraps a Flax NNX model as a jaxnn layer, by ``nnx.split`` / ``nnx.merge``.

    ``model`` is a factory ``model(key) -> nnx.Module`` (e.g. ``lambda key: CNN(rngs=nnx.Rngs(key))``), so
    every run and sweep config initialises its own weights from its key, or a built module, whose weights
    every run then starts from. The ``nnx.Param`` variables become params and all other variables
    (``nnx.BatchStat``, RNG counters) the state, as nested plain dicts. ``apply`` merges them, switches the
    module with ``train()`` / ``eval()``, reseeds its ``key_streams`` with the layer key (``nnx.reseed``) when
    a key is given, calls it on the batch and splits the updated state out again.

    Args:
        model: an ``nnx.Module`` or a function from a PRNG key to one.
        key_streams: the ``nnx.Rngs`` streams reseeded from the layer key in each call.

    Returns:
        A :class:`~jaxnn.nn.Layer`.

    Raises:
        TypeError: if ``model`` is neither an ``nnx.Module`` nor callable.

    Example::

        from flax import nnx

        class MLP(nnx.Module):
            def __init__(self, rngs):
                self.hidden = nnx.Linear(784, 32, rngs=rngs)
                self.drop = nnx.Dropout(0.1, rngs=rngs)
                self.out = nnx.Linear(32, 10, rngs=rngs)

            def __call__(self, x):
                return self.out(self.drop(nnx.relu(self.hidden(x))))

        layer = nn.from_nnx(lambda key: MLP(nnx.Rngs(key)))
        params, state = layer.init(jax.random.key(0), (784,))
    """
    from flax import nnx

    if not (isinstance(model, nnx.Module) or callable(model)):
        raise TypeError(f"from_nnx: model must be an nnx.Module or a function from a PRNG key to one, got "
                        f"{model!r:.200}.")
    make = model if not isinstance(model, nnx.Module) else (lambda key: model)
    graphdef, abstract_params, abstract_state = nnx.split(nnx.eval_shape(lambda: make(jax.random.key(0))),
                                                          nnx.Param, ...)

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        _, params, state = nnx.split(make(key), nnx.Param, ...)
        return nnx.to_pure_dict(params), nnx.to_pure_dict(state)

    def apply(params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
              ) -> tuple[jax.Array, State]:
        p, s = nnx.clone(abstract_params), nnx.clone(abstract_state)
        nnx.replace_by_pure_dict(p, params)
        nnx.replace_by_pure_dict(s, state)
        module = nnx.merge(graphdef, p, s)
        if train:
            module.train()
        else:
            module.eval()
        if key is not None:
            nnx.reseed(module, **dict.fromkeys(key_streams, key))
        y = module(x)
        _, _, new_state = nnx.split(module, nnx.Param, ...)
        return y, nnx.to_pure_dict(new_state) if train else state

    return Layer(init, apply)


def from_equinox(
    model: Any,
    *,
    batched: bool = False,
    axis_name: str = "batch",
    is_param: Callable[[Any], bool] | None = None,
) -> Layer:
    """Wraps an Equinox model as a jaxnn layer.

    ``model`` is a factory ``model(key)`` returning a module, or ``(module, state)`` from
    ``eqx.nn.make_with_state`` (e.g. ``lambda key: eqx.nn.make_with_state(MLP)(key)``), so every run and sweep
    config initialises its own weights from its key; or a built module (or ``(module, state)``), which every
    run then starts from. The module's inexact array leaves (Equinox's ``eqx.is_inexact_array``) become the
    params and the ``eqx.nn.State`` leaves the state, each a dict keyed by the leaf's path
    (``".layers[0].weight"``).

    ``apply`` sets ``eqx.nn.inference_mode(module, not train)`` and, as Equinox models take one example,
    ``jax.vmap`` s it over the batch with ``axis_name`` (the name ``eqx.nn.BatchNorm`` is given); a stateful
    module is called ``module(x, state)`` and returns ``(y, state)``. When ``__call__`` has a ``key``
    argument it receives ``jax.random.split(key, batch)[i]`` for example ``i`` (or ``key`` itself when
    ``batched``).

    Args:
        model: a factory from a PRNG key, or a built module, as above.
        batched: the module takes the whole batch itself (no ``vmap``).
        axis_name: the vmapped batch axis' name.
        is_param: which leaves are trained; default ``eqx.is_inexact_array``. Hyperparameters inside the
            module must be Python numbers: a traced sweep value stored there would be an inexact array, a
            parameter, so it is refused.

    Returns:
        A :class:`~jaxnn.nn.Layer`.

    Raises:
        TypeError: if ``model`` is none of the above, the module has array leaves that are neither params
            nor state (integer buffers), or it stores a traced value from outside (a sweep's hyperparameter).

    Example::

        import equinox as eqx

        layer = nn.from_equinox(lambda key: eqx.nn.MLP(784, 10, 32, depth=2, key=key))
        params, state = layer.init(jax.random.key(0), (784,))     # state == {}
        logits, _ = layer.apply(params, state, jnp.ones((8, 784)))
    """
    import equinox as eqx

    built = isinstance(model, eqx.Module) or isinstance(model, tuple)
    if not (built or callable(model)):
        raise TypeError(f"from_equinox: model must be an eqx.Module, a (module, state) pair or a function from a "
                        f"PRNG key to either, got {model!r:.200}.")
    make = (lambda key: model) if built else model
    is_param = is_param or (lambda leaf: isinstance(leaf, jax.Array | jax.ShapeDtypeStruct)
                            and jnp.issubdtype(leaf.dtype, jnp.inexact))
    skeleton = eqx.filter_eval_shape(make, jax.random.key(0))
    stateful = isinstance(skeleton, tuple)
    module_skeleton, state_skeleton = skeleton if stateful else (skeleton, {})
    module_leaves, module_def = jax.tree_util.tree_flatten_with_path(module_skeleton)
    state_def = jax.tree.structure(state_skeleton)
    buffers = [jax.tree_util.keystr(path) for path, leaf in module_leaves
               if isinstance(leaf, jax.ShapeDtypeStruct) and not is_param(leaf)]
    if buffers:
        raise TypeError(f"from_equinox: the module has array leaves that are not parameters: {buffers}. Make "
                        "them Python constants or eqx.nn.State, or pass is_param to train them.")
    captured = _captured_tracers(make, skeleton)
    if captured:
        raise TypeError(f"from_equinox: the module stores traced values made outside it at {captured} (a sweep's "
                        "hyperparameters?); as inexact arrays they would be trained as parameters. Pass Python "
                        "numbers there (static sweep values, sweep.choice) or use jaxnn layers around the module.")
    takes_key = "key" in inspect.signature(module_skeleton.__call__).parameters

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        built_model = make(key)
        module, state = built_model if stateful else (built_model, {})
        params = {name: leaf for name, leaf in _by_path(module).items() if is_param(leaf)}
        return params, _by_path(state)

    def apply(params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
              ) -> tuple[jax.Array, State]:
        leaves = [params[jax.tree_util.keystr(path)] if is_param(leaf) else leaf for path, leaf in module_leaves]
        module = eqx.nn.inference_mode(module_def.unflatten(leaves), value=not train)
        eqx_state = state_def.unflatten([state[name] for name in _by_path(state_skeleton)])

        def call(example: jax.Array, key: Any) -> Any:
            kwargs = {"key": key} if takes_key else {}
            return module(example, eqx_state, **kwargs) if stateful else (module(example, **kwargs), eqx_state)

        if batched:
            y, new_state = call(x, key)
        else:
            keys = None if key is None or not takes_key else jax.random.split(key, x.shape[0])
            y, new_state = jax.vmap(call, in_axes=(0, None if keys is None else 0), out_axes=(0, None),
                                    axis_name=axis_name)(x, keys)
        return y, _by_path(new_state) if train else state

    return Layer(init, apply)


def _captured_tracers(make: Callable[[jax.Array], Any], skeleton: Any) -> list[str]:
    """Paths of the array leaves of ``make(key)`` that are tracers captured from an enclosing trace, not made
    by ``make``: a sweep's traced hyperparameter stored in a module as it is."""
    closed = jax.make_jaxpr(lambda key: [leaf for leaf in jax.tree.leaves(make(key)) if isinstance(leaf, jax.Array)]
                            )(jax.random.key(0))
    outside = {id(var) for var, const in zip(closed.jaxpr.constvars, closed.consts)
               if isinstance(const, jax.core.Tracer)}
    paths = [jax.tree_util.keystr(path) for path, leaf in jax.tree_util.tree_flatten_with_path(skeleton)[0]
             if isinstance(leaf, jax.ShapeDtypeStruct)]
    return [path for path, var in zip(paths, closed.jaxpr.outvars) if id(var) in outside]


def _stream_keys(key: jax.Array, streams: tuple[str, ...]) -> dict[str, jax.Array]:
    """One key per RNG stream: ``key`` itself for a single stream, else ``jax.random.split(key, len(streams))``."""
    return dict(zip(streams, [key] if len(streams) == 1 else jax.random.split(key, len(streams))))


def _example(input_shape: Shape) -> jax.Array:
    """A batch of one zero example, to initialise a model that infers its shapes from its input."""
    return jnp.zeros((1, *input_shape), jnp.float32)


def _by_path(tree: Any) -> dict[str, Any]:
    """``tree``'s leaves in a flat dict keyed by their paths, in flattening order."""
    return {jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _mode_flags(call: Callable[..., Any], adapter: str, train_args: str | Sequence[str] | None,
                eval_args: str | Sequence[str] | None) -> Callable[[bool], dict[str, bool]]:
    """``flags(train)``: the keyword arguments that tell ``call`` the mode, checked against its signature."""
    parameters = inspect.signature(call).parameters
    open_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    chosen = {}
    for argument, given, defaults, value_for_train in (("train_args", train_args, _TRAIN_NAMES, True),
                                                        ("eval_args", eval_args, _EVAL_NAMES, False)):
        names = [n for n in defaults if n in parameters] if given is None else (
            [given] if isinstance(given, str) else list(given))
        unknown = [n for n in names if n not in parameters and not open_kwargs]
        if unknown:
            raise ValueError(f"{adapter}: {argument}={given!r} names {unknown}, which __call__ does not take; its "
                             f"arguments are {list(parameters)}.")
        chosen.update(dict.fromkeys(names, value_for_train))
    return lambda train: {name: train if for_train else not train for name, for_train in chosen.items()}
