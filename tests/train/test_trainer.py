"""fit_stack: N stacked rows equal N single fits; eval sets, recorders, divergence and per-row early stopping."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn, optim, train

rng = np.random.default_rng(0)
X = rng.normal(size=(50, 5)).astype(np.float32)
Y = ((X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0.5)).astype(np.int32)
XV, YV = X[:20] + 0.1, Y[:20]
MODEL = nn.Sequential([nn.Dense(8), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(3)])
EVAL = train.make_eval_step(MODEL)
KW = {"epochs": 2, "batch_size": 16, "drop_last": False, "progress": False}


def _close(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(u, v, rtol=2e-5, atol=1e-6)


def _against_fits(stacked, opts, history):
    for i, (ts, opt) in enumerate(zip(train.unstack(stacked), opts)):
        single, ref = train.fit(ts, train.make_train_step(MODEL, opt), (X, Y), eval_data=(XV, YV), eval_step=EVAL,
                                **KW)
        np.testing.assert_allclose(history["loss"][i], ref["loss"], rtol=2e-5)
        np.testing.assert_allclose(history["val_accuracy"][i], ref["val_accuracy"], rtol=2e-5)
        np.testing.assert_allclose(history["val_loss"][i], ref["val_loss"], rtol=2e-5)
        yield single


def test_seeds_equal_single_fits():
    opt = optim.adam(0.01)
    ts = train.create_stacked(MODEL, opt, train.seed_keys(0, 3), (5,))
    out, history = train.fit_stack(ts, train.make_train_step(MODEL, opt), (X, Y), eval_sets={"val": (XV, YV)},
                                   eval_step=EVAL, **KW)
    singles = list(_against_fits(ts, [opt] * 3, history))
    _close(out.params, train.stack(singles).params)
    _close(out.model_state, train.stack(singles).model_state)
    assert history["loss"].shape == (3, 2) and (history["diverged_at"] == -1).all()


def test_optimizer_hyperparameters_equal_single_fits():
    opts = [optim.sgd(0.05, momentum=0.9), optim.sgd(0.3, momentum=0.5)]
    ts = train.create_stacked(MODEL, opts, jax.random.key(1), (5,))  # one key: both rows start alike
    _close(train.unstack(ts)[0].params, train.unstack(ts)[1].params)
    out, history = train.fit_stack(ts, train.make_train_step(MODEL, opts[0]), (X, Y), eval_sets={"val": (XV, YV)},
                                   eval_step=EVAL, **KW)
    _close(out.params, train.stack(list(_against_fits(ts, opts, history))).params)


def test_per_row_hp_builds_each_rows_step():
    # l2 is not in the optimizer state: each row's step is built from its hp, like a sweep's traced l2.
    opt, l2 = optim.sgd(0.1), np.array([0.0, 0.05], np.float32)
    ts = train.create_stacked(MODEL, opt, train.seed_keys(2, 2), (5,))
    out, history = train.fit_stack(ts, lambda hp: train.make_train_step(MODEL, opt, l2=hp["l2"]), (X, Y),
                                   hp={"l2": l2}, **KW)
    for i in range(2):
        single, ref = train.fit(train.unstack(ts)[i], train.make_train_step(MODEL, opt, l2=float(l2[i])), (X, Y),
                                **KW)
        np.testing.assert_allclose(history["loss"][i], ref["loss"], rtol=2e-5)
        _close(jax.tree.map(lambda a, i=i: a[i], out.params), single.params)


def test_several_eval_sets_equal_evaluate_on_the_final_state():
    opt = optim.adam(0.01)
    ts = train.create_stacked(MODEL, opt, train.seed_keys(3, 2), (5,))
    sets = {"train": (X, Y), "val": (XV, YV), "holdout": (X[30:], Y[30:])}
    out, history = train.fit_stack(ts, train.make_train_step(MODEL, opt), (X, Y), eval_sets=sets, eval_step=EVAL,
                                   eval_batch_size=7, **KW)
    assert {f"{s}_{m}" for s in sets for m in ("loss", "accuracy")} <= set(history)
    for i, row in enumerate(train.unstack(out)):
        for name, data in sets.items():
            expected = train.evaluate(row, EVAL, data)
            assert history[f"{name}_loss"][i, -1] == pytest.approx(expected["loss"], rel=1e-5)
            assert history[f"{name}_accuracy"][i, -1] == pytest.approx(expected["accuracy"])


def test_recorded_lr_is_the_schedules_value_also_after_set_hparams():
    opts = [optim.sgd(optim.exponential_decay(0.1, k=k)) for k in (0.01, 0.2)]
    model = nn.Sequential([nn.Dense(3)])
    ts = train.create_stacked(model, opts, jax.random.key(0), (5,))
    ts = ts._replace(opt_state=optim.set_hparams(ts.opt_state, **{"lr.lr0": np.array([0.1, 0.3])}))
    _, history = train.fit_stack(ts, train.make_train_step(model, opts[0]), (X, Y), epochs=3, batch_size=10,
                                 recorders={"hparams": train.record_hparams}, progress=False)
    steps = 5 * np.arange(1, 4)  # 50 examples in batches of 10: the lr of the next update after each epoch
    expected = np.array([0.1, 0.3])[:, None] * np.exp(-np.array([0.01, 0.2])[:, None] * steps)
    np.testing.assert_allclose(history["hparams_lr"], expected, rtol=1e-6)


def _diverging_stack(lrs):
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(3)])
    opts = [optim.sgd(lr) for lr in lrs]
    ts = train.create_stacked(model, opts, jax.random.key(4), (5,))
    return train.fit_stack(ts, train.make_train_step(model, opts[0]), (X * 1e3, Y), epochs=3, batch_size=10,
                           eval_sets={"val": (XV, YV)}, eval_step=train.make_eval_step(model), progress=False)


def test_a_diverging_row_freezes_and_leaves_the_others_bitwise_equal():
    out, history = _diverging_stack([0.01, 1e30, 0.02])
    alone, alone_history = _diverging_stack([0.01, 0.02, 0.02])  # the same shapes, row 1 finite
    step = history["diverged_at"][1]
    assert step >= 0 and history["diverged_at"][[0, 2]].tolist() == [-1, -1]
    epoch = step // 5  # 5 steps per epoch: NaN from the epoch it diverged in
    assert np.isnan(history["loss"][1, epoch:]).all() and np.isnan(history["val_loss"][1, epoch:]).all()
    assert np.isfinite(history["loss"][1, :epoch]).all()
    frozen = train.unstack(out)[1]
    assert int(frozen.step) == step and all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(frozen.params))
    for i in (0, 2):
        for a, b in zip(jax.tree.leaves(train.unstack(out)[i].params), jax.tree.leaves(train.unstack(alone)[i].params)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(history["val_loss"][i], alone_history["val_loss"][i])


def _counting(n_rows):
    # params count training steps; a scripted eval loss per row and epoch makes early stopping exact.
    return train.TrainState(jnp.zeros((n_rows, 1)), {}, {}, jnp.zeros(n_rows, jnp.int32),
                            train.seed_keys(0, n_rows))


def _count_step(ts, batch):
    return ts._replace(params=ts.params + 1.0, step=ts.step + 1), {"loss": jnp.float32(1.0)}


SCRIPT = jnp.array([[5.0, 3.0, 4.0, 4.5, 1.0, 0.5], [5.0, 4.0, 3.0, 2.0, 1.0, 0.5]])


def _scripted_eval(hp):
    return lambda ts, batch: {"loss": SCRIPT[hp["row"], ts.step // 4 - 1]}  # 4 steps per epoch


@pytest.mark.parametrize("restore_best", [True, False])
def test_per_row_early_stopping(restore_best):
    data = (jnp.zeros((40, 1)), jnp.zeros(40))
    out, history = train.fit_stack(
        _counting(2), lambda hp: _count_step, data, epochs=6, batch_size=10, hp={"row": np.arange(2)},
        eval_sets={"val": data}, eval_step=_scripted_eval, patience=2, restore_best=restore_best, progress=False)
    assert history["best_epoch"].tolist() == [2, 6] and history["stopped_epoch"].tolist() == [4, 0]
    np.testing.assert_array_equal(history["val_loss"][0], [5.0, 3.0, 4.0, 4.5, np.nan, np.nan])
    np.testing.assert_array_equal(history["val_loss"][1], SCRIPT[1])
    assert out.step.tolist() == ([8, 24] if restore_best else [16, 24])  # a stopped row trains no further
    assert np.isnan(history["loss"][0, 4:]).all()


def test_stack_helpers_round_trip_and_reject_mixed_structures():
    ts = train.create_stacked(MODEL, optim.adam(1e-3), train.seed_keys(0, 2), (5,))
    again = train.stack(train.unstack(ts))
    assert jax.tree.structure(again) == jax.tree.structure(ts)
    _close(again.params, ts.params)
    with pytest.raises(ValueError, match=r"states\[1\] differs"):
        train.stack([train.unstack(ts)[0], train.create(MODEL, optim.sgd(0.1), jax.random.key(0), (5,))])
    with pytest.raises(ValueError, match="3 optimizers and 2 keys"):
        train.create_stacked(MODEL, [optim.sgd(0.1)] * 3, train.seed_keys(0, 2), (5,))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"batch_size": 0}, "batch_size=0"),
    ({"epochs": -1}, "epochs=-1"),
    ({"mode": "lowest"}, "mode='lowest'"),
    ({"patience": 0}, "patience=0"),
    ({"eval_sets": {"val": (X, Y)}}, "eval_step"),
    ({"hp": {"l2": np.zeros(3)}}, r"hp\['l2'\] has shape \(3,\)"),
])
def test_fit_stack_rejects_bad_arguments(kwargs, match):
    ts = train.create_stacked(MODEL, optim.sgd(0.1), train.seed_keys(0, 2), (5,))
    args = {"epochs": 1, "batch_size": 10, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        train.fit_stack(ts, train.make_train_step(MODEL, optim.sgd(0.1)), (X, Y), **args)


def test_recorded_grad_norm_is_the_gradients_global_norm():
    model = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(3)])
    opt = optim.sgd(0.1)
    ts = train.create_stacked(model, opt, train.seed_keys(5, 2), (5,))
    step = train.make_train_step(model, opt, grad_norm=True)
    _, history = train.fit_stack(ts, step, (X, Y), epochs=1, batch_size=50, progress=False)  # one full batch
    for i, row in enumerate(train.unstack(ts)):
        def loss(params, row=row):
            order = np.asarray(train.epoch_batches(row.key, 0, 50, 50)[0][0])
            logits, _ = model.apply(params, row.model_state, X[order])
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(50), Y[order]])

        grads = jax.grad(loss)(row.params)
        expected = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in jax.tree.leaves(grads)))
        assert history["grad_norm"][i, 0] == pytest.approx(expected, rel=1e-5)
