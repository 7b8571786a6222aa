"""Bad inputs not covered elsewhere: one test per row of docs/reliability.md that points here.

The other rows point at the existing tests of each module (tests/optim, tests/nn, tests/data, tests/sweep,
tests/train, tests/test_checkpoint.py).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import checkpoint, nn, optim, sweep, train


def test_nonfinite_grads_without_skip_nonfinite_reach_the_params_and_with_it_are_skipped():
    # No error by design (a check would cost a host sync per step): NaN/Inf flow into the params, as in the
    # textbook update p - lr·g. skip_nonfinite is the opt-in guard; sweeps flag diverged runs themselves.
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.array([np.nan, np.inf, 1.0])}
    plain, guarded = optim.sgd(0.1), optim.skip_nonfinite(optim.sgd(0.1))
    updates, _ = plain.update(grads, plain.init(params), params)
    new = np.asarray(optim.apply_updates(params, updates)["w"])
    assert np.isnan(new[0]) and np.isneginf(new[1]) and new[2] == np.float32(1.0) - np.float32(0.1)
    updates, state = guarded.update(grads, guarded.init(params), params)
    np.testing.assert_array_equal(optim.apply_updates(params, updates)["w"], params["w"])


def test_apply_updates_refuses_integer_params():
    # Casting p + u back to int32 would silently drop the update's fraction (1 + 0.9 -> 1).
    with pytest.raises(TypeError, match=re.escape("params['w'] has dtype int32; optimizers need floating-point")):
        optim.apply_updates({"w": jnp.ones(2, jnp.int32)}, {"w": jnp.full(2, 0.9)})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_set_hparams_refuses_nonfinite_values(value):
    state = optim.adam(1e-3).init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match=rf"lr={value} is not allowed: lr must be a number >= 0"):
        optim.set_hparams(state, lr=value)


def test_batchnorm_on_a_rank_one_input_asks_for_a_batch_axis():
    bn = nn.BatchNorm()
    params, state = bn.init(jax.random.key(0), (4,))
    with pytest.raises(ValueError, match=re.escape("BatchNorm(axis=-1) expected an input of shape (batch, ...) "
                                                   "with 4 features last, but received shape (4,)")):
        bn.apply(params, state, jnp.ones(4), train=True)


def test_build_reading_a_field_the_sweep_lacks_names_it_and_the_fields():
    def build(hp):
        return sweep.Trial(nn.Sequential([nn.Dense(2)]), optim.sgd(hp["learning_rate"]))

    x, y = np.zeros((8, 3), np.float32), np.zeros(8, np.int32)
    with pytest.raises(KeyError, match=re.escape("hp['learning_rate'], which is not a field of this sweep; its "
                                                 "fields are ['lr']")):
        sweep.run(build, sweep.grid(lr=[0.1]), ((x, y), (x, y)), epochs=1, batch_size=4, progress=False)


def _fit(width, directory, epochs=1, **kwargs):
    model, opt = nn.Sequential([nn.Dense(width), nn.relu, nn.Dense(2)]), optim.sgd(0.1)
    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    ts = train.create(model, opt, jax.random.key(0), (3,))
    return train.fit(ts, train.make_train_step(model, opt), (x, (x[:, 0] > 0).astype(np.int32)), epochs=epochs,
                     batch_size=8, progress=False, checkpoint_dir=directory, **kwargs)


def test_fit_resume_from_another_models_checkpoint_names_the_leaf(tmp_path):
    _fit(4, tmp_path)
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"\['ts'\]\.params\['0'\]\['b'\]: expected float32\[5\], found float32\[4\]"):
        _fit(5, tmp_path, epochs=2, resume=True)


def test_fit_resume_from_a_truncated_checkpoint_raises_instead_of_loading_part(tmp_path):
    _, history = _fit(4, tmp_path)
    path = checkpoint.latest(tmp_path)
    with open(path, "r+b") as f:
        f.truncate(100)
    with pytest.raises(checkpoint.CheckpointError, match="is truncated or corrupted: expected .* found 100"):
        _fit(4, tmp_path, epochs=2, resume=True)
