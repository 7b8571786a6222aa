"""The experiments' stacked trainer: rows train exactly as separate runs, and a traced value reaches the loss."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments._stacked import Eval, init_stacked, loss_curves, stack, train_stacked
from jaxnn import data, nn, optim, train


def test_stacked_rows_equal_separate_runs():
    rng = np.random.default_rng(0)
    split = lambda n: data.Split(rng.standard_normal((n, 5)).astype(np.float32),  # noqa: E731
                                 rng.integers(0, 3, n).astype(np.int32))
    dataset = data.Dataset(split(40), split(12))
    model, opt = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(3)]), optim.adam(1e-2)
    members = [train.create(model, opt, jax.random.key(seed), (5,)) for seed in (3, 4)]
    stacked, history = train_stacked(lambda _: (model, opt, 0.0), stack(members), dataset.train, 2, 10, key=7,
                                     evals={"test": Eval(dataset.test), "test5": Eval(dataset.test, 5)})
    step = jax.jit(train.make_train_step(model, opt))
    for i, ts in enumerate(members):  # the reference: one member at a time, un-vmapped, the same minibatches
        losses = []
        for epoch in range(2):
            batches, _ = train.epoch_batches(jax.random.key(7), epoch, 40, 10)
            for idx in batches:
                ts, metrics = step(ts, (dataset.train.x[np.asarray(idx)], dataset.train.y[np.asarray(idx)]))
                losses.append(float(metrics["loss"]))
        for got, want in zip(jax.tree.leaves(stacked.params), jax.tree.leaves(ts.params)):
            np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(history["loss"][i], [np.mean(losses[:4]), np.mean(losses[4:])], rtol=1e-5)
        logits = model.apply(ts.params, ts.model_state, jnp.asarray(dataset.test.x))[0]
        accuracy = np.mean(np.asarray(logits).argmax(-1) == dataset.test.y)
        np.testing.assert_allclose(history["test_accuracy"][i, -1], accuracy, atol=1e-6)
        # batches of 5 (with a remainder of 2) weigh examples equally: the same accuracy as one batch
        np.testing.assert_allclose(history["test5_accuracy"][i, -1], accuracy, atol=1e-6)


def test_traced_l2_matches_numpy_sgd_with_weight_decay():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.integers(0, 2, 12).astype(np.int32)
    model, lr, key, l2s, epochs, batch = nn.Dense(2, w_init=nn.init.normal(0.5)), 0.3, jax.random.key(4), \
        [0.0, 0.5], 3, 4

    def make(l2):
        return model, optim.sgd(lr), l2

    states = init_stacked(make, l2s, key, (3,))
    _, history = train_stacked(make, states, (x, y), epochs, batch, key=key, values=l2s,
                               evals={"train": Eval((x, y), 12)})
    params = train.create(model, optim.sgd(lr), key, (3,)).params  # the runs' common starting point
    for i, l2 in enumerate(l2s):
        w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
        for epoch in range(epochs):
            for idx in np.asarray(train.epoch_batches(key, epoch, 12, batch)[0]):
                z = x[idx] @ w + b
                p = np.exp(z - z.max(1, keepdims=True))
                dz = (p / p.sum(1, keepdims=True) - np.eye(2)[y[idx]]) / batch
                w, b = w - lr * (x[idx].T @ dz + l2 * w), b - lr * dz.sum(0)  # the bias is not decayed
            z = x @ w + b
            log_p = z - z.max(1, keepdims=True)
            log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
            np.testing.assert_allclose(history["train_loss"][i, epoch], -log_p[np.arange(12), y].mean(), rtol=1e-5)


def test_loss_curves_match_numpy_sgd_on_softmax_regression():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 4, 20).astype(np.int32)
    model, key, lr, steps, batch = nn.Dense(4, w_init=nn.init.normal(0.5)), jax.random.key(3), 0.5, 6, 5
    curves = loss_curves({"sgd": (model, optim.sgd(lr))}, x, y, steps, batch, key)
    # The same weights and minibatches the helper draws; the training arithmetic is re-derived in NumPy.
    init_key, batch_key = jax.random.split(key)
    params, _ = model.init(init_key, (3,))
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    expected = []
    for idx in np.asarray(jax.random.randint(batch_key, (steps, batch), 0, 20)):
        z = x[idx] @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        expected.append(-np.log(p[np.arange(batch), y[idx]]).mean())
        dz = (p - np.eye(4)[y[idx]]) / batch
        w, b = w - lr * x[idx].T @ dz, b - lr * dz.sum(0)
    np.testing.assert_allclose(curves["sgd"], expected, rtol=1e-5)
