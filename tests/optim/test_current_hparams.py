"""current_hparams: each hyperparameter's value at the next update, schedules resolved in closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import checkpoint, optim

PARAMS = {"w": jnp.ones(3)}


def _updated(opt, steps):
    state = opt.init(PARAMS)
    for _ in range(steps):
        _, state = opt.update({"w": jnp.ones(3)}, state, PARAMS)
    return state


def test_schedules_resolve_to_their_closed_form_at_the_next_update():
    opt = optim.chain(optim.clip_by_global_norm(1.0),
                      optim.sgd(optim.warmup(optim.cosine_decay(0.2, total_steps=10), 2), momentum=0.9))
    for steps in (0, 1, 5):
        current = optim.current_hparams(_updated(opt, steps))
        t = steps - 2  # the cosine's own clock starts after the 2 warm-up steps
        lr = 0.2 * (steps + 1) / 2 if steps < 2 else 0.1 * (1 + np.cos(np.pi * min(t, 10) / 10))
        assert float(current["1.lr"]) == pytest.approx(lr, rel=1e-6)
        assert float(current["1.momentum"]) == pytest.approx(0.9) and float(current["0.max_norm"]) == 1.0
        assert not any(".lr0" in name or "warmup_steps" in name for name in current)


def test_follows_set_hparams_and_skipped_steps():
    state = _updated(optim.adam(optim.exponential_decay(0.1, k=0.5)), 2)
    state = optim.set_hparams(state, **{"lr.lr0": 0.4}, b1=0.8)
    current = optim.current_hparams(state)
    assert float(current["lr"]) == pytest.approx(0.4 * np.exp(-1.0), rel=1e-6)
    assert float(current["b1"]) == pytest.approx(0.8)
    skip = optim.skip_nonfinite(optim.sgd(optim.inverse_time_decay(1.0, k=1.0)))
    state = skip.init(PARAMS)
    _, state = skip.update({"w": jnp.full(3, jnp.nan)}, state, PARAMS)  # skipped: the clock does not move
    assert float(optim.current_hparams(state)["lr"]) == pytest.approx(1.0)


def test_stacked_states_from_two_optimizers_resolve_per_row_and_checkpoint(tmp_path):
    states = [optim.sgd(optim.exponential_decay(lr, k=k)).init(PARAMS) for lr, k in ((0.1, 0.0), (0.2, 1.0))]
    assert jax.tree.structure(states[0]) == jax.tree.structure(states[1])  # stackable, one compilation
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *states)
    stacked = stacked._replace(count=jnp.array([3, 3], jnp.int32))
    np.testing.assert_allclose(optim.current_hparams(stacked)["lr"], [0.1, 0.2 * np.exp(-3.0)], rtol=1e-6)
    checkpoint.save(tmp_path / "s.jaxnn", stacked)
    loaded, _ = checkpoint.load(tmp_path / "s.jaxnn", like=stacked)
    np.testing.assert_array_equal(optim.current_hparams(loaded)["lr"], optim.current_hparams(stacked)["lr"])
