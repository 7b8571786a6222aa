"""nn.from_flax: a linen CNN with BatchNorm and Dropout trains in fit and sweeps exactly as a
hand-written Flax loop does, and the mode arguments are found by name."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

fnn = pytest.importorskip("flax.linen")
optax = pytest.importorskip("optax")

from jaxnn import checkpoint, nn, optim, sweep, train  # noqa: E402
from tests.shuffle import fit_order  # noqa: E402

N, BATCH, EPOCHS, SHAPE = 32, 8, 2, (6, 6, 1)
RNG = np.random.default_rng(0)
X = jnp.asarray(RNG.normal(size=(N, *SHAPE)), jnp.float32)
Y = jnp.asarray(RNG.integers(0, 3, N), jnp.int32)
EX = jnp.asarray(RNG.normal(size=(8, *SHAPE)), jnp.float32)
EY = jnp.asarray(RNG.integers(0, 3, 8), jnp.int32)


class CNN(fnn.Module):
    momentum: float = 0.9

    @fnn.compact
    def __call__(self, x, train: bool):
        x = fnn.Conv(4, (3, 3))(x)
        x = fnn.relu(fnn.BatchNorm(use_running_average=not train, momentum=self.momentum)(x))
        x = fnn.Dropout(0.25, deterministic=not train)(x.reshape((x.shape[0], -1)))
        return fnn.Dense(3)(x)


def hand_written_loop(module, tx, key, epochs):
    """The usual Flax loop, with jaxnn's keys: init from split(key)[0], dropout from fold_in(run_key, step),
    and each epoch's shuffle from fold_in(split(run_key)[1], epoch)."""
    init_key, run_key = jax.random.split(key)
    variables = module.init({"params": init_key}, jnp.zeros((1, *SHAPE)), train=False)
    params, stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)

    @jax.jit
    def update(params, stats, opt_state, x, y, dropout_key):
        def loss_fn(p):
            logits, new = module.apply({"params": p, "batch_stats": stats}, x, train=True,
                                       rngs={"dropout": dropout_key}, mutable=["batch_stats"])
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new["batch_stats"]

        grads, stats = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), stats, opt_state

    step = 0
    for epoch in range(epochs):
        perm = fit_order(run_key, epoch, N)
        for b in range(N // BATCH):
            idx = perm[b * BATCH:(b + 1) * BATCH]
            params, stats, opt_state = update(params, stats, opt_state, X[idx], Y[idx],
                                              jax.random.fold_in(run_key, step))
            step += 1
    return params, stats


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def fit(model, opt, key, epochs=EPOCHS):
    ts = train.create(model, opt, key, SHAPE)
    return train.fit(ts, train.make_train_step(model, opt), (X, Y), epochs=epochs, batch_size=BATCH,
                     eval_data=(EX, EY), eval_step=train.make_eval_step(model), progress=False)


def test_fit_reproduces_a_hand_written_flax_loop():
    # SGD, not Adam: the conv bias before BatchNorm has a zero gradient up to rounding, whose sign Adam amplifies.
    key = jax.random.key(3)
    ts, history = fit(nn.from_flax(CNN()), optim.sgd(0.1, momentum=0.9), key)
    params, stats = hand_written_loop(CNN(), optax.sgd(0.1, momentum=0.9), key, EPOCHS)
    assert_trees_close(ts.params, params)
    assert set(ts.model_state) == {"batch_stats"}
    assert_trees_close(ts.model_state["batch_stats"], stats)
    logits = CNN().apply({"params": params, "batch_stats": stats}, EX, train=False)
    ours, _ = nn.from_flax(CNN()).apply(ts.params, ts.model_state, EX)
    np.testing.assert_allclose(ours, logits, rtol=1e-5, atol=1e-5)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, EY).mean()
    np.testing.assert_allclose(history["val_loss"][-1], loss, rtol=1e-5)


def test_sweep_over_eight_configs_equals_fit_config_by_config():
    def build(hp):  # traced: the learning rate and BatchNorm's momentum (a Flax attribute used in arithmetic)
        return sweep.Trial(nn.from_flax(CNN(momentum=hp["momentum"])), optim.sgd(hp["lr"], momentum=0.9))

    configs = sweep.grid(lr=[0.01, 0.03, 0.1, 0.3], momentum=[0.8, 0.9])
    result = sweep.run(build, configs, ((X, Y), (EX, EY)), epochs=EPOCHS, batch_size=BATCH, key=1,
                       shared_order=False, progress=False)
    assert result.history["val_loss"].shape == (8, 1, EPOCHS)
    i = 6
    trial = build({k: np.float32(v) for k, v in configs[i].items()})
    _, history = fit(trial.model, trial.optimizer, sweep.config_key(1, i))
    np.testing.assert_allclose(result.history["val_loss"][i, 0], history["val_loss"], rtol=2e-5, atol=1e-6)
    assert len(set(result.history["val_loss"][:, 0, -1].tolist())) == 8


def test_traced_dropout_rate_inside_flax_fails_loudly():
    # Flax's Dropout branches on its rate in Python: a traced rate cannot reach it (the docs say what to do).
    class Dropping(fnn.Module):
        rate: float

        @fnn.compact
        def __call__(self, x, train: bool):
            return fnn.Dense(3)(fnn.Dropout(self.rate, deterministic=not train)(x))

    def build(hp):
        return sweep.Trial(nn.from_flax(Dropping(rate=hp["rate"])), optim.sgd(0.1))

    with pytest.raises(jax.errors.ConcretizationTypeError):
        sweep.run(build, sweep.grid(rate=[0.1, 0.2]), ((X[:, 0, 0], Y), (EX[:, 0, 0], EY)), epochs=1,
                  batch_size=BATCH, progress=False)


def test_mode_arguments_by_name_and_errors():
    class Deterministic(fnn.Module):
        @fnn.compact
        def __call__(self, x, deterministic: bool):
            return fnn.Dropout(0.5, deterministic=deterministic)(x)

    layer = nn.from_flax(Deterministic())  # eval_args=("deterministic",) found by name
    params, state = layer.init(jax.random.key(0), (64,))
    assert params == {} and state == {}
    x = jnp.ones((2, 64))
    np.testing.assert_array_equal(layer.apply(params, state, x)[0], x)
    key = jax.random.key(7)
    dropped, _ = layer.apply(params, state, x, train=True, key=key)
    expected = Deterministic().apply({}, x, deterministic=False, rngs={"dropout": key})
    np.testing.assert_array_equal(dropped, expected)
    assert 0 < float(jnp.mean(dropped == 0)) < 1
    with pytest.raises(ValueError, match=r"train_args='training' names \['training'\].*\['x', 'deterministic'\]"):
        nn.from_flax(Deterministic(), train_args="training")
    with pytest.raises(TypeError, match="flax.linen.Module"):
        nn.from_flax(lambda x: x)


def test_checkpoint_round_trip_and_output_shape(tmp_path):
    layer = nn.from_flax(CNN())
    assert layer.output_shape(SHAPE) == (3,)
    ts = train.create(layer, optim.adam(1e-3), jax.random.key(0), SHAPE)
    checkpoint.save(tmp_path / "ckpt", ts)
    restored, _ = checkpoint.load(tmp_path / "ckpt", ts)
    for a, b in zip(jax.tree.leaves(ts), jax.tree.leaves(restored)):
        np.testing.assert_array_equal(jax.random.key_data(a) if a.dtype == ts.key.dtype else a,
                                      jax.random.key_data(b) if b.dtype == ts.key.dtype else b)


def test_the_docs_mnist_sweep_runs_on_a_tiny_idx_folder(tmp_path):
    from tests.data.conftest import idx_bytes, write_gz

    rng = np.random.default_rng(0)
    for name, n in [("train", 60), ("t10k", 20)]:
        write_gz(tmp_path / f"{name}-images-idx3-ubyte.gz", idx_bytes(rng.integers(0, 256, (n, 28, 28), np.uint8)))
        write_gz(tmp_path / f"{name}-labels-idx1-ubyte.gz", idx_bytes(rng.integers(0, 10, n).astype(np.uint8)))
    page = (Path(__file__).parents[2] / "docs" / "ecosystem.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"^```python\n(.*?)^```", page, re.S | re.M) if "mnist-5k" in b]
    block = block.replace('data_dir = "../shared/data/mnist-5k"', f"data_dir = {str(tmp_path)!r}")
    namespace = {}
    exec(compile(block, "docs/ecosystem.md", "exec"), namespace)
    result = namespace["result"]
    assert result.history["val_loss"].shape == (8, 1, 3) and np.isfinite(result.history["val_loss"]).all()


def test_several_rng_streams_get_split_keys():
    class Noisy(fnn.Module):
        @fnn.compact
        def __call__(self, x, train: bool):
            if not train:
                return x
            return x + jax.random.normal(self.make_rng("noise"), x.shape) + fnn.Dropout(0.5)(x, deterministic=False)

    layer = nn.from_flax(Noisy(), rngs=("dropout", "noise"))
    x, key = jnp.ones((2, 4)), jax.random.key(3)
    dropout_key, noise_key = jax.random.split(key)
    expected = Noisy().apply({}, x, train=True, rngs={"dropout": dropout_key, "noise": noise_key})
    np.testing.assert_array_equal(layer.apply({}, {}, x, train=True, key=key)[0], expected)
