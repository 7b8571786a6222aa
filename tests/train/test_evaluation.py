"""Evaluation: equal batches where the size allows, example-weighted means against NumPy, one program per run."""

import jax
import numpy as np
import pytest

from jaxnn import nn, optim, train
from jaxnn.train.evaluation import eval_batch

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("n, batch_size", [(1000, 400), (997, 400), (10, 4), (32, 128), (7, 3), (1, 1), (12, 5)])
def test_eval_batch_is_the_fewest_equal_batches_of_at_least_half_the_size(n, batch_size):
    size = min(batch_size, n)
    even = [n // k for k in range(1, n + 1) if n % k == 0 and size / 2 <= n // k <= size]
    assert eval_batch(n, batch_size) == (max(even) if even else size)


def _linear(n):
    model = nn.Sequential([nn.Dense(3)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (2,))
    x = RNG.normal(size=(n, 2)).astype(np.float32)
    y = RNG.integers(0, 3, size=n).astype(np.int32)
    logits = x.astype(np.float64) @ np.asarray(ts.params["0"]["w"]) + np.asarray(ts.params["0"]["b"])
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return model, ts, (x, y), {"loss": -log_p[np.arange(n), y].mean(), "accuracy": (logits.argmax(1) == y).mean()}


@pytest.mark.parametrize("n", [12, 13])  # batches of 4 (12 = 3 x 4), and 13: prime, so 3 x 4 and a remainder
def test_every_set_is_the_example_weighted_mean_over_its_batches(n):
    model, ts, (x, y), expected = _linear(n)
    rows = train.as_rows(train.stack([ts, ts]))
    sets = train.evaluation.prepare_sets({"val": (x, y), "test": (x[:8], y[:8])}, 4, jax.device_put)
    eval_for = train.evaluation.constant_eval(train.make_eval_step(model))
    out = train.evaluate_sets(rows, eval_for, sets, stacked=True)
    for name, value in expected.items():
        np.testing.assert_allclose(out[f"val_{name}"], [value, value], rtol=1e-5)
    assert set(out) == {"val_loss", "val_accuracy", "test_loss", "test_accuracy"}
    np.testing.assert_allclose(train.evaluate(ts, train.make_eval_step(model), (x, y), batch_size=4)["loss"],
                               expected["loss"], rtol=1e-5)
