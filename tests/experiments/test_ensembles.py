"""The ensembles experiment: a vmapped stack trains each member exactly as alone, and the averaging is right."""

import json

import jax
import jax.numpy as jnp
import numpy as np

from experiments import ensembles
from jaxnn import data, nn, optim, train


def test_vmapped_members_equal_separate_runs():
    rng = np.random.default_rng(0)
    split = lambda n: data.Split(rng.standard_normal((n, 5)).astype(np.float32),  # noqa: E731
                                 rng.integers(0, 3, n).astype(np.int32))
    dataset = data.Dataset(split(40), split(12))
    model, opt = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(3)]), optim.adam(1e-2)
    members = [train.create(model, opt, jax.random.key(seed), (5,)) for seed in (3, 4)]
    stacked, history = ensembles.train_stack(model, opt, ensembles.stack(members), dataset, 2, 10, key=7)
    step = jax.jit(train.make_train_step(model, opt))
    for i, ts in enumerate(members):  # the reference: one member at a time, un-vmapped, the same minibatches
        for epoch in range(2):
            batches, _ = train.epoch_batches(jax.random.key(7), epoch, 40, 10)
            for idx in batches:
                ts, _ = step(ts, (dataset.train.x[np.asarray(idx)], dataset.train.y[np.asarray(idx)]))
        for got, want in zip(jax.tree.leaves(stacked.params), jax.tree.leaves(ts.params)):
            np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)
        logits = model.apply(ts.params, ts.model_state, jnp.asarray(dataset.test.x))[0]
        accuracy = np.mean(np.asarray(logits).argmax(-1) == dataset.test.y)
        np.testing.assert_allclose(history["test_accuracy"][i, -1], accuracy, atol=1e-6)


def test_ensemble_accuracy_averages_probabilities():
    # member 0 is confidently wrong on example 0; member 1 is mildly right: the mean follows member 0
    probs = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.4, 0.6], [0.3, 0.7]]])
    assert ensembles.ensemble_accuracy(probs, np.array([1, 1])) == 0.5
    assert ensembles.ensemble_accuracy(probs[1:], np.array([1, 1])) == 1.0


def test_quick_run(tmp_path):
    ensembles.main(["--quick", "--members", "3", "--out", str(tmp_path)])
    assert (tmp_path / "ensembles.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "ensembles.json").read_text())
    members = summary["member_test_accuracy"]
    assert len(members) == 3 and len(set(members)) > 1, "different seeds must give different members"
    assert summary["ensemble_test_accuracy_by_size"][0] == members[0], "an ensemble of one is its member"
    np.testing.assert_allclose(members, np.asarray(summary["history"]["test_accuracy"])[:, -1], atol=1e-6)
