"""The adaptive-lr experiment: AdaGrad's effective step only shrinks, and it matches a NumPy re-derivation."""

import json

import jax.numpy as jnp
import numpy as np

from experiments import adaptive_lr
from jaxnn import optim


def test_effective_step_against_numpy():
    params = {"a": jnp.ones((3,)), "b": jnp.ones((2, 2))}
    grads = {"a": jnp.array([1.0, 2.0, 3.0]), "b": jnp.array([[0.5, 4.0], [1.0, 0.1]])}
    opt = optim.adagrad(lr=0.1, eps=1e-7)
    state = opt.init(params)
    _, state = opt.update(grads, state)
    _, state = opt.update(grads, state)
    h = 2 * np.concatenate([np.ravel(grads["a"]), np.ravel(grads["b"])]) ** 2  # the sum of two squared gradients
    expected = np.median(0.1 / (np.sqrt(h) + 1e-7))
    np.testing.assert_allclose(adaptive_lr.effective_step(state, "sum_sq"), expected, rtol=1e-6)


def test_adagrad_step_shrinks_while_rmsprop_does_not_vanish(tmp_path):
    adaptive_lr.main(["--no-cache", "--quick", "--epochs", "3", "--out", str(tmp_path)])
    assert (tmp_path / "adaptive_lr.png").stat().st_size > 10_000
    runs = json.loads((tmp_path / "adaptive_lr.json").read_text())["runs"]
    assert sum(run["optimizer"] == "AdaGrad" for run in runs.values()) == 4
    for label, run in runs.items():
        steps = np.asarray(run["effective_step"])
        assert np.all(np.isfinite(run["loss"])), label
        if run["optimizer"] == "AdaGrad":
            # h only grows: the effective step can never increase
            assert np.all(np.diff(steps) <= 1e-6 * steps[:-1]), label
        else:
            # a leaky average forgets: the step stays within a factor 3 of where it was
            assert steps[-1] > steps[0] / 3, label
    # the step is proportional to lr for runs of the same optimizer with the same first gradients
    first = {run["lr"]: run["effective_step"][0] for run in runs.values() if run["optimizer"] == "AdaGrad"}
    assert first[0.1] > first[0.01] > first[0.003]
