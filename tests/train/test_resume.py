"""Checkpointed fit: a resumed run is bitwise identical to an uninterrupted one; changed hparams are never silent."""

import jax
import numpy as np
import pytest

from jaxnn import nn, optim, train


def _setup(lr=0.05):
    model = nn.Sequential([nn.Dense(16), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(3)])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5)
    opt = optim.adam(lr)
    ts = train.create(model, opt, jax.random.key(1), (5,))
    return ts, train.make_train_step(model, opt), train.make_eval_step(model), (x, y)


def _bits(tree):
    tree = tree._replace(key=jax.random.key_data(tree.key))
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


def test_resume_is_bitwise_identical(tmp_path):
    ts, step, eval_step, data = _setup()
    kwargs = {"batch_size": 16, "eval_data": data, "eval_step": eval_step, "progress": False, "drop_last": False}
    full, full_history = train.fit(ts, step, data, epochs=5, **kwargs)

    train.fit(ts, step, data, epochs=2, checkpoint_dir=tmp_path, **kwargs)  # "interrupted" after epoch 2
    resumed, history = train.fit(ts, step, data, epochs=5, checkpoint_dir=tmp_path, resume=True, **kwargs)

    assert _bits(resumed) == _bits(full)
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert history["loss"] == full_history["loss"]
    assert history["val_accuracy"] == full_history["val_accuracy"]


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    ts, step, _, data = _setup()
    a, _ = train.fit(ts, step, data, epochs=1, batch_size=16, progress=False)
    b, _ = train.fit(ts, step, data, epochs=1, batch_size=16, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert _bits(a) == _bits(b)


def test_resume_with_changed_hparams_is_explicit(tmp_path):
    ts, step, _, data = _setup()
    train.fit(ts, step, data, epochs=1, batch_size=16, progress=False, checkpoint_dir=tmp_path)
    changed = ts._replace(opt_state=optim.set_hparams(ts.opt_state, lr=0.01))
    kwargs = {"epochs": 2, "batch_size": 16, "progress": False, "checkpoint_dir": tmp_path, "resume": True}
    with pytest.raises(ValueError, match=r"lr: checkpoint 0.05.* vs now 0.01"):
        train.fit(changed, step, data, **kwargs)
    kept, _ = train.fit(changed, step, data, resume_hparams="checkpoint", **kwargs)
    assert float(optim.hparams(kept.opt_state)["lr"]) == pytest.approx(0.05)
    new, _ = train.fit(changed, step, data, resume_hparams="current", **kwargs)
    assert float(optim.hparams(new.opt_state)["lr"]) == pytest.approx(0.01)
