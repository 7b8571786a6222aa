"""hparams / set_hparams: names, dtypes, name matching, errors, per-layer values, and that every name takes effect."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import optim

from . import reference
from .reference import OPTIMIZERS, assert_trees_close, loss, make_params, run, run_reference

ADAM_NAMES = {"lr", "b1", "b2", "eps", "weight_decay"}


def _names(opt):
    return set(optim.hparams(opt.init(make_params())))


def test_plain_names_are_argument_names():
    assert _names(optim.adam()) == ADAM_NAMES
    assert _names(optim.sgd()) == {"lr", "weight_decay"}
    assert _names(optim.sgd(momentum=0.9)) == {"lr", "weight_decay", "momentum"}


def test_schedule_parameters_are_named_lr_dot_param():
    names = _names(optim.adam(optim.warmup(optim.cosine_decay(1e-3, 100, 1e-5), 10)))
    assert names == ADAM_NAMES - {"lr"} | {"lr.lr0", "lr.total_steps", "lr.final", "lr.warmup_steps"}


def test_chain_prefixes_position_and_skip_nonfinite_is_transparent():
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.skip_nonfinite(optim.adam(optim.exponential_decay(1, 2))))
    assert _names(opt) == {"0.max_norm", "1.b1", "1.b2", "1.eps", "1.weight_decay", "1.lr.lr0", "1.lr.k"}
    assert _names(optim.skip_nonfinite(optim.adam())) == ADAM_NAMES


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_hparams_are_float32_scalars_whatever_the_param_dtype(dtype):
    state = optim.adam(optim.exponential_decay(1e-3, 1e-4)).init(make_params(dtype))
    assert all(v.dtype == jnp.float32 and v.shape == () for v in optim.hparams(state).values())


def test_hparams_are_float32_for_float64_params():
    with jax.enable_x64(True):
        state = optim.rmsprop(1e-3).init(make_params(jnp.float64))
        assert all(v.dtype == jnp.float32 for v in optim.hparams(state).values())


def test_set_by_full_name_and_by_dotted_suffix():
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(optim.exponential_decay(0.1, 0.01)))
    state = opt.init(make_params())
    new = optim.set_hparams(state, max_norm=2.0, k=0.5, **{"lr.lr0": 0.3, "1.b1": 0.7})
    values = {name: float(v) for name, v in optim.hparams(new).items()}
    assert values == pytest.approx(
        {
            **{n: float(v) for n, v in optim.hparams(state).items()},
            "0.max_norm": 2.0,
            "1.lr.k": 0.5,
            "1.lr.lr0": 0.3,
            "1.b1": 0.7,
        }
    )
    assert float(optim.hparams(state)["1.b1"]) == pytest.approx(0.9)  # a copy: the old state is untouched


def test_ambiguous_name_lists_the_candidates():
    state = optim.chain(optim.sgd(0.1), optim.adam()).init(make_params())
    with pytest.raises(ValueError, match=r"'lr' is ambiguous: it matches 0\.lr, 1\.lr"):
        optim.set_hparams(state, lr=0.2)


@pytest.mark.parametrize("name", ["beta1", "r"])  # "r" ends "lr" but is no dotted suffix of it
def test_unknown_name_lists_the_valid_names(name):
    state = optim.adam().init(make_params())
    valid = ", ".join(sorted(ADAM_NAMES))
    with pytest.raises(ValueError, match=rf"'{name}' is not a hyperparameter\. Valid names: {valid}\."):
        optim.set_hparams(state, **{name: 0.5})


@pytest.mark.parametrize(
    "name, value", [("b1", 1.0), ("lr0", -0.5), ("eps", 0.0), ("k", -1.0), ("max_norm", 0.0), ("b2", float("nan"))]
)
def test_out_of_range_value_names_it(name, value):
    state = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(optim.exponential_decay(1e-3, 1e-4))).init(
        make_params()
    )
    with pytest.raises(ValueError, match=rf"{name}={re.escape(repr(value))} is not allowed"):
        optim.set_hparams(state, **{name: value})


# A valid value different from every default, per name, to show each listed hyperparameter is live.
NEW_VALUES = {
    "lr": 0.5,
    "weight_decay": 0.3,
    "momentum": 0.5,
    "b1": 0.5,
    "b2": 0.5,
    "eps": 0.5,
    "decay": 0.5,
    "rho": 0.5,
    "initial_accumulator": 2.0,
}


@pytest.mark.parametrize(
    "make", [*OPTIMIZERS.values(), lambda: optim.adamw(weight_decay=0.0)], ids=[*OPTIMIZERS, "adamw-no-decay"]
)
def test_every_listed_hyperparameter_changes_the_next_update(make):
    """hparams() advertises these names as settable; a set value that the update ignores would be a silent no-op."""
    params, opt = make_params(), make()
    params, state = run(opt, params, steps=2)  # moments are non-zero, so b1/b2/momentum matter
    grads = jax.grad(loss)(params)
    before, _ = opt.update(grads, state, params)
    ignored = []
    for hp in optim.hparams(state):
        after, _ = opt.update(grads, optim.set_hparams(state, **{hp: NEW_VALUES[hp]}), params)
        if all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(before))):
            ignored.append(hp)
    assert not ignored, f"set_hparams accepted {ignored} but the update ignores them"


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adadelta"])
def test_per_layer_learning_rates(name):
    """lr given as a tree prefix of the params: each subtree follows its own lr (the loss is separable per leaf)."""
    params = make_params()
    actual, _ = run(OPTIMIZERS[name](lr={"dense": {"w": 0.05, "b": 0.0}, "conv": 0.2}), params)
    rule = getattr(reference, name)
    expected = {
        "dense": {"w": run_reference(rule(lr=0.05), params["dense"]["w"]), "b": params["dense"]["b"]},  # lr 0: frozen
        "conv": run_reference(rule(lr=0.2), params["conv"]),
    }
    assert_trees_close(actual, expected)


def test_set_hparams_broadcasts_a_scalar_over_per_layer_values():
    state = optim.sgd(lr={"dense": 0.1, "conv": 0.2}).init(make_params())
    lr = optim.hparams(optim.set_hparams(state, lr=0.3))["lr"]
    assert jax.tree.map(float, lr) == pytest.approx({"dense": 0.3, "conv": 0.3})


PARAMS3 = {"0": {"w": jnp.ones((2, 3))}, "1": {"w": jnp.ones((3, 3))}, "2": {"w": jnp.ones((3, 1))}}


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: optim.adamw(1e-3, weight_decay={"0": 0.5, "1": 0.0}), "weight_decay"),  # the params have key "2"
        (lambda: optim.sgd({"0": 0.1, "1": 0.1, "2": 0.1, "3": 0.1}), "lr"),
        (lambda: optim.adam(jnp.full((2,), 1e-3)), "lr"),  # shape (2,) broadcasts to none of the leaves
        (lambda: optim.rmsprop(0.01, decay={"0": 0.9, "1": {"w": jnp.full((4,), 0.9)}, "2": 0.9}), "decay"),
    ],
)
def test_per_layer_values_that_do_not_fit_the_params_are_refused_at_init(make, name):
    opt = make()
    with pytest.raises(ValueError, match=rf"(?s){name}=.* does not fit the params: a per-layer {name} must be a tree "
                                         rf"prefix.*\n  {name}: .*\n  the params: \{{'0': \{{'w': 'float32\[2, 3\]'"):
        opt.init(PARAMS3)


def test_per_layer_values_that_fit_are_accepted():
    per_column = jnp.array([0.1, 0.2, 0.3])  # broadcasts over the rows of the (3, 3) leaf
    state = optim.sgd({"0": 0.1, "1": {"w": per_column}, "2": 0.0}).init(PARAMS3)
    updates, _ = optim.sgd({"0": 0.1, "1": {"w": per_column}, "2": 0.0}).update(PARAMS3, state)
    np.testing.assert_allclose(updates["1"]["w"], -np.broadcast_to([0.1, 0.2, 0.3], (3, 3)), rtol=1e-6)


@pytest.mark.parametrize("value", [jnp.ones(2), {"dense": 0.1, "conv": 0.2}])
def test_set_hparams_value_that_does_not_fit_the_stored_one_is_refused(value):
    state = optim.sgd(0.1).init(make_params())
    with pytest.raises(ValueError, match=r"(?s)lr=.* does not fit the stored lr: .*\n  the stored lr: float32\[\]"):
        optim.set_hparams(state, lr=value)


@pytest.mark.parametrize("name, value", [("momentum.lr0", 1.5), ("momentum.final", 1.0), ("lr", 1e39)])
def test_set_hparams_checks_schedule_levels_against_the_hyperparameter_they_schedule(name, value):
    state = optim.sgd(0.1, momentum=optim.cosine_decay(0.5, 100, final=0.9)).init(make_params())
    with pytest.raises(ValueError, match=rf"{re.escape(name)}={re.escape(repr(value))} is not allowed"):
        optim.set_hparams(state, **{name: value})


def test_set_hparams_refuses_a_growing_step_schedule():
    state = optim.sgd(optim.step_decay(0.1, 0.5, 10)).init(make_params())
    with pytest.raises(ValueError, match=r"factor=3\.0 is not allowed: lr\.factor must be a number in \(0, 1\]"):
        optim.set_hparams(state, factor=3.0)
