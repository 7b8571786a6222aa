"""Constructor arguments out of range raise errors that name the argument and the value; traced values pass."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import optim

from .reference import OPTIMIZERS, make_params, run

NAN, INF = float("nan"), float("inf")

OPTIMIZER_CASES = [
    (optim.sgd, "lr", -0.1),
    (optim.sgd, "lr", NAN),
    (optim.sgd, "lr", INF),
    (optim.sgd, "momentum", 1.0),
    (optim.sgd, "momentum", -0.1),
    (optim.sgd, "weight_decay", -0.01),
    (optim.momentum, "momentum", 1.0),
    (optim.nesterov, "momentum", -0.5),
    (optim.adagrad, "eps", 0.0),
    (optim.adagrad, "initial_accumulator", -1.0),
    (optim.adagrad, "weight_decay", NAN),
    (optim.rmsprop, "decay", 1.0),
    (optim.rmsprop, "decay", -0.5),
    (optim.rmsprop, "eps", -1e-8),
    (optim.adadelta, "rho", 1.0),
    (optim.adadelta, "rho", NAN),
    (optim.adadelta, "lr", -1.0),
    (optim.adam, "b1", 1.0),
    (optim.adam, "b2", 1.5),
    (optim.adam, "b1", -0.1),
    (optim.adam, "eps", 0.0),
    (optim.amsgrad, "b2", 1.0),
    (optim.adamw, "weight_decay", -0.01),
    (optim.clip_by_global_norm, "max_norm", 0.0),
]


@pytest.mark.parametrize("make, name, value", OPTIMIZER_CASES)
def test_bad_optimizer_argument(make, name, value):
    with pytest.raises(ValueError, match=rf"\b{name}={re.escape(repr(value))} is not allowed"):
        make(**{name: value})


def test_bad_per_layer_value_is_reported_with_its_tree():
    lr = {"dense": 0.1, "conv": -0.1}
    with pytest.raises(ValueError, match=re.escape(f"lr={lr!r} is not allowed")):
        optim.adam(lr)


def test_non_numeric_value_is_a_type_error():
    with pytest.raises(TypeError, match=r"lr='0\.1' is not allowed"):
        optim.sgd("0.1")


SCHEDULE_CASES = [
    (lambda: optim.step_decay(0.1, 0.5, every=0), "every=0"),
    (lambda: optim.step_decay(0.1, 0.5, every=-2), "every=-2"),
    (lambda: optim.step_decay(0.1, factor=0.0, every=5), "factor=0.0"),
    (lambda: optim.step_decay(-0.1, 0.5, 5), "lr0=-0.1"),
    (lambda: optim.exponential_decay(0.1, k=-0.1), "k=-0.1"),
    (lambda: optim.inverse_time_decay(0.1, k=NAN), "k=nan"),
    (lambda: optim.cosine_decay(0.1, total_steps=0), "total_steps=0"),
    (lambda: optim.cosine_decay(0.1, 100, final=-1e-3), "final=-0.001"),
    (lambda: optim.warmup(optim.constant(0.1), steps=0), "warmup_steps=0"),
    (lambda: optim.warmup(optim.constant(0.1), steps=-3), "warmup_steps=-3"),
]


@pytest.mark.parametrize("make, message", SCHEDULE_CASES)
def test_bad_schedule_argument(make, message):
    with pytest.raises(ValueError, match=rf"\b{re.escape(message)} is not allowed"):
        make()


def test_warmup_needs_a_schedule():
    with pytest.raises(TypeError, match=r"warmup: schedule must be .* got 0\.1"):
        optim.warmup(0.1, 10)


def test_warmup_twice_is_refused():
    with pytest.raises(ValueError, match="already warmed up"):
        optim.warmup(optim.warmup(optim.constant(0.1), 5), 5)


@pytest.mark.parametrize("make", [optim.chain, optim.skip_nonfinite])
def test_composites_need_optimizers(make):
    with pytest.raises(TypeError, match=r"must be an Optimizer .* got 'adam'"):
        make("adam")


def test_traced_values_are_not_checked():
    """A sweep may contain values the checks would reject; under vmap they are tracers and pass through."""
    lrs, ks = jnp.array([-0.1, 0.1]), jnp.array([-0.5, 0.5])
    jax.vmap(lambda lr: run(optim.adam(lr, b1=lr), make_params(), steps=1))(lrs)
    jax.vmap(lambda k: run(optim.sgd(optim.exponential_decay(0.1, k)), make_params(), steps=1))(ks)


STORED_CASES = [  # allowed in float64, not as the float32 the state stores
    (optim.sgd, "lr", 1e39),
    (optim.sgd, "momentum", 0.999999999),
    (optim.adam, "b2", 0.99999999),
    (optim.rmsprop, "decay", 0.99999999),
    (optim.adagrad, "initial_accumulator", 1e39),
]


@pytest.mark.parametrize("make, name, value", STORED_CASES)
def test_values_are_checked_as_stored_in_float32(make, name, value):
    with pytest.raises(ValueError, match=rf"\b{name}={re.escape(repr(value))} is not allowed \(as float32"):
        make(**{name: value})


@pytest.mark.parametrize("make", [optim.adam, optim.adagrad, optim.rmsprop, optim.adadelta])
def test_subnormal_eps_is_refused_and_the_smallest_normal_is_safe(make):
    with pytest.raises(ValueError, match=r"eps=1e-40 is not allowed: eps must be a number >= 1\.1754944e-38"):
        make(eps=1e-40)
    params = {"w": jnp.ones(3)}
    opt = make(eps=float(jnp.finfo(jnp.float32).tiny))
    updates, _ = opt.update({"w": jnp.zeros(3)}, opt.init(params), params)  # a zero gradient: 0 / eps, not 0 / 0
    np.testing.assert_array_equal(updates["w"], np.zeros(3))


@pytest.mark.parametrize(
    "make, name, value",
    [(optim.sgd, "lr", True), (optim.sgd, "momentum", True), (optim.sgd, "momentum", False), (optim.adam, "b1", True),
     (optim.clip_by_global_norm, "max_norm", True)],
)
def test_bools_are_not_numbers(make, name, value):
    with pytest.raises(TypeError, match=rf"{name}={value} is not allowed: {name} must be .*, got dtype bool"):
        make(**{name: value})


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("acc_dtype", [jnp.int32, bool, "not a dtype"])
def test_acc_dtype_must_be_floating(name, acc_dtype):
    with pytest.raises(TypeError, match=r"acc_dtype=.* is not allowed: acc_dtype must be None .* floating-point"):
        OPTIMIZERS[name](acc_dtype=acc_dtype)


def test_momentum_and_nesterov_name_their_coefficient_momentum():
    for make in (optim.momentum, optim.nesterov):
        state = make(0.1, momentum=0.5).init(make_params())
        assert float(optim.hparams(state)["momentum"]) == 0.5
        with pytest.raises(TypeError, match="mu"):
            make(0.1, mu=0.5)
