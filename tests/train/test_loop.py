"""fit: epochs walk the data without replacement in one scan, match a step-by-step loop, stop early, validate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn, optim, train


def _counting_state(n: int) -> train.TrainState:
    # params count how often each example index was trained on: a train step with no model at all.
    return train.TrainState(jnp.zeros(n), {}, {}, jnp.zeros([], jnp.int32), jax.random.key(3))


def _counting_step(ts, batch):
    idx, _ = batch
    counts = ts.params.at[idx].add(1.0)
    return ts._replace(params=counts, step=ts.step + 1), {"loss": jnp.float32(idx.shape[0])}


@pytest.mark.parametrize(("drop_last", "expected_total"), [(True, 100), (False, 103)])
def test_each_epoch_visits_every_example_once(drop_last, expected_total):
    n = 103
    data = (jnp.arange(n), jnp.zeros(n))
    ts, history = train.fit(_counting_state(n), _counting_step, data, epochs=3, batch_size=20,
                            drop_last=drop_last, progress=False)
    counts = np.asarray(ts.params)
    assert counts.sum() == 3 * expected_total
    assert counts.max() <= 3  # without replacement: never twice in an epoch
    if not drop_last:
        np.testing.assert_array_equal(counts, 3)
    assert int(ts.step) == 3 * (5 if drop_last else 6)
    assert history["epoch"] == [1, 2, 3]


def test_epochs_are_fresh_permutations():
    key = jax.random.key(0)
    full0, rest0 = train.epoch_batches(key, 0, 50, 8)
    full1, _ = train.epoch_batches(key, 1, 50, 8)
    assert full0.shape == (6, 8) and rest0.shape == (2,)
    np.testing.assert_array_equal(np.sort(np.concatenate([np.ravel(full0), rest0])), np.arange(50))
    assert not np.array_equal(full0, full1)
    np.testing.assert_array_equal(full0, train.epoch_batches(key, 0, 50, 8)[0])


def _mlp_setup(seed=0, dropout=0.0, bn=False):
    layers = [nn.Dense(16), nn.BatchNorm()] if bn else [nn.Dense(16)]
    layers += [nn.relu, nn.Dropout(dropout), nn.Dense(3)]
    model = nn.Sequential(layers)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5)
    opt = optim.momentum(0.05)
    ts = train.create(model, opt, jax.random.key(seed), (5,))
    return model, opt, ts, (x, y)


def test_fit_equals_a_python_loop_of_jitted_steps():
    model, opt, ts0, (x, y) = _mlp_setup(dropout=0.3)
    step = train.make_train_step(model, opt)
    ts_fit, history = train.fit(ts0, step, (x, y), epochs=2, batch_size=16, progress=False)
    ts, jitted, losses = ts0, jax.jit(step), []
    for epoch in range(2):
        full, _ = train.epoch_batches(ts0.key, epoch, 64, 16)
        for idx in np.asarray(full):
            ts, m = jitted(ts, (x[idx], y[idx]))
            losses.append(float(m["loss"]))
    for a, b in zip(jax.tree.leaves(ts_fit.params), jax.tree.leaves(ts.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history["loss"], [np.mean(losses[:4]), np.mean(losses[4:])], rtol=1e-5)


def test_early_stopping_keeps_the_best_epoch():
    n, bs = 40, 10
    scripted = jnp.array([5.0, 3.0, 2.0, 2.5, 2.2, 4.0, 1.0, 0.5])  # best at epoch 3, then 3 worse epochs

    def eval_step(ts, batch):
        return {"loss": scripted[ts.step // (n // bs) - 1]}

    ts, history = train.fit(_counting_state(n), _counting_step, (jnp.arange(n), jnp.zeros(n)), epochs=8,
                            batch_size=bs, eval_data=(jnp.zeros(n), jnp.zeros(n)), eval_step=eval_step,
                            patience=3, progress=False)
    assert history["best_epoch"] == 3
    assert history["stopped_epoch"] == 6
    assert history["val_loss"] == pytest.approx([5.0, 3.0, 2.0, 2.5, 2.2, 4.0])
    assert int(ts.step) == 3 * (n // bs)  # the returned state is the best epoch's


def test_history_reports_eval_metrics_weighted_by_batch():
    model, opt, ts, (x, y) = _mlp_setup()
    eval_step = train.make_eval_step(model)
    metrics = train.evaluate(ts, eval_step, (x[:50], y[:50]), batch_size=16)  # 3 full batches + 2 examples
    logits, _ = model.apply(ts.params, ts.model_state, x[:50])
    log_p = jax.nn.log_softmax(np.asarray(logits, np.float64))
    expected_loss = -np.mean(np.asarray(log_p)[np.arange(50), y[:50]])
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(np.mean(np.argmax(logits, -1) == y[:50]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"batch_size": 65}, r"batch_size=65 .*\[1, 64\]"),
        ({"epochs": -1}, "epochs=-1"),
        ({"eval_data": ([[0.0] * 5], [0])}, "eval_step"),
        ({"patience": 0}, "patience=0"),
        ({"resume": True}, "checkpoint_dir"),
        ({"resume_hparams": "maybe"}, "resume_hparams='maybe'"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, match):
    model, opt, ts, data = _mlp_setup()
    args = {"epochs": 1, "batch_size": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        train.fit(ts, train.make_train_step(model, opt), data, progress=False, **args)


def test_fit_rejects_mismatched_data():
    model, opt, ts, (x, y) = _mlp_setup()
    with pytest.raises(ValueError, match=r"x.shape=\(64, 5\) and y.shape=\(63,\)"):
        train.fit(ts, train.make_train_step(model, opt), (x, y[:63]), epochs=1, batch_size=8, progress=False)
    with pytest.raises(TypeError, match="pair"):
        train.fit(ts, train.make_train_step(model, opt), x, epochs=1, batch_size=8, progress=False)


def test_callbacks_eval_sets_and_max_mode():
    model, opt, ts, (x, y) = _mlp_setup()
    seen, ended = [], []

    class End(train.Callback):
        def on_train_end(self, history):
            ended.append(list(history["epoch"]))

    _, history = train.fit(ts, train.make_train_step(model, opt), (x, y), epochs=3, batch_size=16,
                           eval_sets={"val": (x[:20], y[:20]), "test": (x[20:], y[20:])},
                           eval_step=train.make_eval_step(model), patience=5, metric="test_accuracy", mode="max",
                           callbacks=[lambda epoch, record: seen.append((epoch, record["test_loss"])), End()],
                           progress=False)
    assert [e for e, _ in seen] == [1, 2, 3] and [v for _, v in seen] == history["test_loss"]
    assert ended == [[1, 2, 3]]
    assert history["best_epoch"] == 1 + int(np.argmax(history["test_accuracy"]))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"} <= set(history)


def test_progress_prints_compact_lines_when_stderr_is_not_a_terminal():
    import subprocess
    import sys
    from pathlib import Path

    script = ("import numpy as np, jax\nfrom jaxnn import nn, optim, train\n"
              "m = nn.Sequential([nn.Dense(2)]); o = optim.sgd(0.1)\n"
              "x = np.ones((8, 3), np.float32); y = np.zeros(8, np.int32)\n"
              "train.fit(train.create(m, o, jax.random.key(0), (3,)), train.make_train_step(m, o), (x, y), 2, 4)\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stderr.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["fit: epoch 1/2", "fit: epoch 2/2"], out.stderr
    assert all(" loss " in line for line in lines)
