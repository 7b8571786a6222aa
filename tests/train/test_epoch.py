"""The stacked epoch's divergence guard: checked every step, a diverged row recovered by replaying the epoch."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import nn, optim, train

X = np.linspace(-1.0, 1.0, 16, dtype=np.float32).reshape(8, 2)
Y = np.zeros(8, np.int32)
KEY = jax.random.key(0)


def _scaling_step(hp):
    # params grow by the row's factor each step while the loss stays finite: a factor of 1e10 overflows the
    # params to inf in step 3 (1 -> 1e10 -> 1e20 -> 1e30 -> inf), which a check of the loss alone never sees.
    def step(ts, batch):
        return ts._replace(params=ts.params * hp["scale"], step=ts.step + 1), {"loss": jnp.mean(batch[0])}

    return step


def _scaling_rows(scales, stopped=(False, False, False)):
    n = len(scales)
    ts = train.TrainState(jnp.ones((n, 2)), {}, {}, jnp.zeros(n, jnp.int32), train.seed_keys(0, n))
    rows = train.as_rows(ts, {"scale": np.asarray(scales, np.float32)})
    return rows._replace(stopped=jnp.asarray(stopped))


def _epoch(rows, step_for=_scaling_step, batch_size=1):
    return train.run_epoch(rows, step_for, (X, Y), batch_size, 0, stacked=True, order_key=KEY)


def test_params_overflowing_with_a_finite_loss_freeze_at_the_last_finite_step():
    rows, means = _epoch(_scaling_rows([1.5, 1e10, 0.5]))
    assert rows.diverged_at.tolist() == [-1, 3, -1]
    assert int(rows.ts.step[1]) == 3
    np.testing.assert_array_equal(rows.ts.params[1], np.full(2, 1e30, np.float32))  # the state before step 3
    loss = np.asarray(means["loss"])
    assert np.isnan(loss[1]) and np.isfinite(loss[[0, 2]]).all()
    calm, calm_means = _epoch(_scaling_rows([1.5, 1.0, 0.5]))
    for i in (0, 2):
        np.testing.assert_array_equal(rows.ts.params[i], calm.ts.params[i])
        np.testing.assert_array_equal(means["loss"][i], calm_means["loss"][i])
    np.testing.assert_array_equal(rows.ts.params[0], np.full(2, 1.5**8, np.float32))


def test_stopped_and_already_diverged_rows_keep_their_state_bit_for_bit():
    rows = _scaling_rows([1.5, 2.0, 0.5], stopped=(False, True, False))
    rows = rows._replace(diverged_at=jnp.array([-1, -1, 5], jnp.int32))
    out, means = _epoch(rows)
    for i in (1, 2):
        np.testing.assert_array_equal(out.ts.params[i], rows.ts.params[i])
        assert int(out.ts.step[i]) == 0 and np.isnan(means["loss"][i])
    assert out.diverged_at.tolist() == [-1, -1, 5]
    assert int(out.ts.step[0]) == 8


def test_an_infinite_gradient_at_a_finite_loss_freezes_only_that_row():
    # sqrt(|z|) has an infinite derivative at z = 0: a row whose outputs are exactly 0 gets a finite loss (0) and an
    # infinite gradient, which SGD turns into non-finite params in the very first step.
    model = nn.Sequential([nn.Dense(1)])
    opt = optim.sgd(0.1)
    step = train.make_train_step(model, opt, loss=lambda z, y: jnp.mean(jnp.sqrt(jnp.abs(z))), metrics={})
    ts = train.create_stacked(model, opt, train.seed_keys(1, 2), (2,))
    zero = jax.tree.map(lambda a: a.at[1].set(0.0), ts.params)
    rows, _ = train.run_epoch(train.as_rows(ts._replace(params=zero)), train.epoch.constant_step(step), (X, Y), 4,
                              0, stacked=True, order_key=KEY)
    assert rows.diverged_at.tolist() == [-1, 0]
    for frozen, initial in zip(jax.tree.leaves(rows.ts.params), jax.tree.leaves(zero)):
        np.testing.assert_array_equal(frozen[1], initial[1])
    alone, _ = train.run_epoch(train.as_rows(ts), train.epoch.constant_step(step), (X, Y), 4, 0, stacked=True,
                               order_key=KEY)
    for got, ref in zip(jax.tree.leaves(rows.ts.params), jax.tree.leaves(alone.ts.params)):
        np.testing.assert_array_equal(got[0], ref[0])
        assert np.isfinite(got[0]).all()


def test_the_checked_epoch_equals_the_guarded_step_applied_step_by_step():
    # The reference: train.guarded_step (the per-step select) in a Python loop over the same minibatches.
    rows = _scaling_rows([1.5, 1e10, 0.5])
    out, _ = _epoch(rows, batch_size=2)
    full, _ = train.epoch_batches(KEY, 0, len(X), 2)
    step = jax.jit(jax.vmap(lambda r, b: train.guarded_step(_scaling_step, r, b), in_axes=(0, None)))
    ref = rows
    for idx in np.asarray(full):
        ref, _ = step(ref, (X[idx], Y[idx]))
    for a, b in zip(jax.tree.leaves((out.ts.params, out.ts.step, out.diverged_at)),
                    jax.tree.leaves((ref.ts.params, ref.ts.step, ref.diverged_at))):
        np.testing.assert_array_equal(a, b)
