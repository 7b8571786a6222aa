"""The experiments' shared models: evaluation with batch statistics matches a NumPy forward pass."""

import jax
import numpy as np
import pytest

from experiments._models import BN_EPS, make_batch_stats_eval, mlp
from jaxnn import nn, optim, train


def setting():
    model = mlp(1, 3, nn.init.normal(0.7), batch_norm=True, hidden=4)
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (5,))
    # Running statistics far from the batch's: a step that used them would give a different answer.
    ts = ts._replace(model_state={"1": {"mean": np.full(4, 3.0, np.float32), "var": np.full(4, 9.0, np.float32)}})
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    return model, ts, x, np.arange(8, dtype=np.int32) % 3


def numpy_logits(ts, x):
    """The net's logits with BN normalising by the statistics of ``x`` itself."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), ts.params)
    h = x @ p["0"]["w"] + p["0"]["b"]
    h = (h - h.mean(0)) / np.sqrt(h.var(0) + BN_EPS) * p["1"]["gamma"] + p["1"]["beta"]
    return np.maximum(h, 0) @ p["3"]["w"] + p["3"]["b"]


def cross_entropy(z, y):
    log_p = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    return -log_p[np.arange(len(y)), y]


def test_batch_stats_eval_normalises_with_the_batch_itself():
    model, ts, x, y = setting()
    metrics = make_batch_stats_eval(model)(ts, (x, y))
    z = numpy_logits(ts, x)
    np.testing.assert_allclose(metrics["loss"], cross_entropy(z, y).mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["accuracy"], (z.argmax(1) == y).mean())


def test_batch_stats_eval_in_groups_normalises_each_group_alone():
    model, ts, x, y = setting()
    metrics = make_batch_stats_eval(model, group=4)(ts, (x, y))
    z = np.concatenate([numpy_logits(ts, x[:4]), numpy_logits(ts, x[4:])])
    np.testing.assert_allclose(metrics["loss"], cross_entropy(z, y).mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["accuracy"], (z.argmax(1) == y).mean())
    with pytest.raises(ValueError, match="group=3 does not divide the evaluation batch of 8"):
        make_batch_stats_eval(model, group=3)(ts, (x, y))
