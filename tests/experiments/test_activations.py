"""The activations experiment trains every network and the models use the activations they claim."""

import json

import jax
import jax.numpy as jnp
import numpy as np

from experiments import activations


def test_models_apply_their_activation():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((4, 6)), jnp.float32)
    reference = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "ReLU": lambda z: np.maximum(z, 0),
                 "leaky ReLU": lambda z: np.where(z > 0, z, 0.01 * z), "ELU": lambda z: np.where(z > 0, z, np.expm1(z))}
    for name, fn in reference.items():
        model = activations.build_model(name, classes=3)
        params, state = model.init(jax.random.key(0), (6,))
        w1, b1 = (np.asarray(params["0"][k]) for k in ("w", "b"))
        w2, b2 = (np.asarray(params["2"][k]) for k in ("w", "b"))
        w3, b3 = (np.asarray(params["4"][k]) for k in ("w", "b"))
        expected = fn(fn(np.asarray(x) @ w1 + b1) @ w2 + b2) @ w3 + b3
        np.testing.assert_allclose(model.apply(params, state, x)[0], expected, rtol=2e-4, atol=2e-5, err_msg=name)
    maxout = activations.build_model("Maxout (2 pieces)", classes=3)
    params, _ = maxout.init(jax.random.key(0), (6,))
    assert params["0"]["w"].shape == (6, activations.HIDDEN, 2)


def test_quick_run_records_every_activation(tmp_path):
    activations.main(["--no-cache", "--quick", "--epochs", "1", "--out", str(tmp_path)])
    assert (tmp_path / "activations.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "activations.json").read_text())
    assert list(summary["runs"]) == list(activations.ACTIVATIONS)
    for name, run in summary["runs"].items():
        losses = np.asarray(run["loss"])
        assert losses.shape == (activations.SEEDS, 1), name
        assert np.all(np.isfinite(losses)) and np.all(losses < np.log(10) + 0.5), name
        assert len(set(losses[:, 0])) == activations.SEEDS, f"{name}: the seeds must start differently"
