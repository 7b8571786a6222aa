"""nn.from_nnx: a Flax NNX model with BatchNorm and Dropout trains in fit exactly as a hand-written NNX loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

nnx = pytest.importorskip("flax.nnx")

from jaxnn import losses, nn, optim, train  # noqa: E402
from tests.shuffle import fit_order  # noqa: E402

N, BATCH, FEATURES, LR = 16, 8, 5, 0.1
RNG = np.random.default_rng(2)
X = jnp.asarray(RNG.normal(size=(N, FEATURES)), jnp.float32)
Y = jnp.asarray(RNG.integers(0, 3, N), jnp.int32)


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(FEATURES, 8, rngs=rngs)
        self.norm = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(0.25, rngs=rngs)
        self.out = nnx.Linear(8, 3, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(nnx.relu(self.norm(self.hidden(x)))))


def make(key):
    return MLP(nnx.Rngs(key))


def hand_written_loop(key, epochs):
    """Stateful NNX training with jaxnn's keys: the module from split(key)[0], its dropout stream reseeded with
    fold_in(run_key, step), each epoch's shuffle from fold_in(split(run_key)[1], epoch); plain SGD."""
    init_key, run_key = jax.random.split(key)
    model, step = make(init_key), 0
    model.train()
    for epoch in range(epochs):
        perm = fit_order(run_key, epoch, N)
        for b in range(N // BATCH):
            idx = perm[b * BATCH:(b + 1) * BATCH]
            nnx.reseed(model, dropout=jax.random.fold_in(run_key, step))
            grads = nnx.grad(lambda m, x, y: losses.softmax_cross_entropy(m(x), y))(model, X[idx], Y[idx])
            params = nnx.state(model, nnx.Param)
            nnx.update(model, jax.tree.map(lambda p, g: p - LR * g, params, grads))
            step += 1
    model.eval()
    return model


def test_fit_reproduces_a_hand_written_nnx_loop():
    key = jax.random.key(5)
    layer = nn.from_nnx(make)
    ts = train.create(layer, optim.sgd(LR), key, (FEATURES,))
    ts, _ = train.fit(ts, train.make_train_step(layer, optim.sgd(LR)), (X, Y), epochs=2, batch_size=BATCH,
                      progress=False)
    model = hand_written_loop(key, 2)
    expected = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    assert jax.tree.structure(ts.params) == jax.tree.structure(expected)
    for ours, theirs in zip(jax.tree.leaves(ts.params), jax.tree.leaves(expected)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ts.model_state["norm"]["mean"], model.norm.mean[...], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.apply(ts.params, ts.model_state, X)[0], model(X), rtol=1e-5, atol=1e-5)


def test_a_built_module_and_shapes():
    module = make(jax.random.key(0))
    layer = nn.from_nnx(module)
    params, state = layer.init(jax.random.key(1), (FEATURES,))
    np.testing.assert_array_equal(params["hidden"]["kernel"], module.hidden.kernel[...])
    assert layer.output_shape((FEATURES,)) == (3,)
    assert set(state) == {"norm", "drop"}  # BatchNorm statistics and the dropout stream's counter
    with pytest.raises(TypeError, match="from_nnx: model must be an nnx.Module"):
        nn.from_nnx(3)
