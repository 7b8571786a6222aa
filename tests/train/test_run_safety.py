"""Issue 12 for ``fit``: the run fingerprint, the folder lock, non-finite stops, ended runs and early errors."""

import warnings

import jax
import numpy as np
import pytest

from jaxnn import checkpoint, nn, optim, train


def _data(seed=0, n=48):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5)


def _run(activation=nn.relu, lr=0.05, seed=1, l2=0.0):
    model = nn.Sequential([nn.Dense(8), activation, nn.Dense(3)])
    opt = optim.sgd(lr)
    ts = train.create(model, opt, jax.random.key(seed), (5,))
    return ts, train.make_train_step(model, opt, l2=l2), train.make_eval_step(model)


KW = {"batch_size": 16, "progress": False}


def _bits(ts):
    ts = ts._replace(key=jax.random.key_data(ts.key))
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(ts)]


class _Count(train.Callback):
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, epoch, record):
        self.epochs.append(epoch)


def test_a_second_writer_is_refused_while_the_folder_is_locked(tmp_path):
    ts, step, _ = _run()
    with checkpoint.lock(tmp_path):  # another writer holds the folder
        with pytest.raises(checkpoint.CheckpointLockedError, match="in use by another writer"):
            train.fit(ts, step, _data(), epochs=1, checkpoint_dir=tmp_path, **KW)
    assert checkpoint.latest(tmp_path) is None
    train.fit(ts, step, _data(), epochs=1, checkpoint_dir=tmp_path, **KW)  # released: fit takes it
    assert checkpoint.latest(tmp_path) is not None


@pytest.mark.parametrize("change, names", [
    ({"seed": 2}, r"ts\.key"),
    ({"data_seed": 1}, "the training data"),
    ({"batch_size": 12}, r"batch_size \(checkpoint 16, now 12\)"),
    ({"activation": nn.tanh}, "the train step's traced program"),
    ({"l2": 1e-3}, "the train step's traced program"),
])
def test_resume_refuses_another_runs_checkpoint_naming_what_differs(tmp_path, change, names):
    ts, step, _ = _run()
    train.fit(ts, step, _data(), epochs=1, checkpoint_dir=tmp_path, **KW)
    ts2, step2, _ = _run(activation=change.get("activation", nn.relu), seed=change.get("seed", 1),
                         l2=change.get("l2", 0.0))
    kwargs = {**KW, "batch_size": change.get("batch_size", 16)}
    with pytest.raises(ValueError, match=f"another run's checkpoint: .*{names}"):
        train.fit(ts2, step2, _data(change.get("data_seed", 0)), epochs=2, checkpoint_dir=tmp_path, resume=True,
                  **kwargs)


def test_a_fresh_run_refuses_a_folder_of_another_run_unless_overwrite(tmp_path):
    ts, step, _ = _run()
    train.fit(ts, step, _data(), epochs=2, checkpoint_dir=tmp_path, **KW)
    other, other_step, _ = _run(seed=2)
    with pytest.raises(ValueError, match=r"holds another run's checkpoints .*ts\.key.*overwrite=True"):
        train.fit(other, other_step, _data(), epochs=1, checkpoint_dir=tmp_path, **KW)
    train.fit(ts, step, _data(), epochs=1, checkpoint_dir=tmp_path, **KW)  # the same run again is fine

    new, _ = train.fit(other, other_step, _data(), epochs=1, checkpoint_dir=tmp_path, overwrite=True, **KW)
    assert [p.name for p in tmp_path.glob("ckpt_*")] == ["ckpt_000000001.jaxnn"]  # the old run's are gone
    resumed, _ = train.fit(other, other_step, _data(), epochs=1, checkpoint_dir=tmp_path, resume=True, **KW)
    assert _bits(resumed) == _bits(new)


def _first_nonfinite_step(ts, step, data, batch_size, epochs):
    """Plain Python loop of jitted steps: (the step that went non-finite, the state before it)."""
    x, y = data
    jstep = jax.jit(step)
    for epoch in range(epochs):
        full, _ = train.epoch_batches(ts.key, epoch, len(x), batch_size)
        for idx in np.asarray(full):
            new, metrics = jstep(ts, (x[idx], y[idx]))
            leaves = jax.tree.leaves(new.params)
            if not (np.isfinite(metrics["loss"]) and all(np.isfinite(leaf).all() for leaf in leaves)):
                return int(ts.step), ts
            ts = new
    raise AssertionError("never diverged")


def test_fit_stops_at_the_first_nonfinite_step_and_returns_the_last_finite_state(tmp_path):
    ts, step, _ = _run(lr=1e3)
    data = _data()
    expected_step, expected_state = _first_nonfinite_step(ts, step, data, 16, 5)
    with pytest.warns(RuntimeWarning, match=rf"NaN or Inf in epoch \d, at step {expected_step} .*stopped"):
        out, history = train.fit(ts, step, data, epochs=5, checkpoint_dir=tmp_path, **KW)
    assert history["stopped"] == "nonfinite" and history["diverged_at"] == expected_step
    assert len(history["epoch"]) == expected_step // 3 + 1 < 5  # 3 steps per epoch: stopped in that epoch
    assert int(out.step) == expected_step
    for a, b in zip(jax.tree.leaves(out.params), jax.tree.leaves(expected_state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert checkpoint.latest(tmp_path) == checkpoint.latest(tmp_path, finite=True)  # no NaN state was saved


def test_on_nonfinite_warn_trains_on_and_continue_says_nothing():
    ts, step, _ = _run(lr=1e3)
    with pytest.warns(RuntimeWarning, match="training goes on"):
        _, history = train.fit(ts, step, _data(), epochs=4, on_nonfinite="warn", **KW)
    assert len(history["epoch"]) == 4 and history["diverged_at"] >= 0 and "stopped" not in history
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, history = train.fit(ts, step, _data(), epochs=4, on_nonfinite="continue", **KW)
    assert len(history["epoch"]) == 4 and np.isnan(history["loss"][-1])
    with pytest.raises(ValueError, match="on_nonfinite='maybe' is not allowed"):
        train.fit(ts, step, _data(), epochs=1, on_nonfinite="maybe", **KW)


@pytest.mark.filterwarnings("ignore:save_step")
def test_resume_passes_over_a_nonfinite_newest_checkpoint(tmp_path):
    ts, step, _ = _run()
    kwargs = {**KW, "checkpoint_dir": tmp_path}
    first, _ = train.fit(ts, step, _data(), epochs=1, **kwargs)
    hot = ts._replace(opt_state=optim.set_hparams(ts.opt_state, lr=1e4))
    with pytest.warns(RuntimeWarning, match="holds NaN or Inf"):  # save_step says so for every such save
        train.fit(hot, step, _data(), epochs=5, resume=True, resume_hparams="current", on_nonfinite="continue",
                  **kwargs)
    finite = checkpoint.latest(tmp_path, finite=True)
    assert finite != checkpoint.latest(tmp_path)
    count = _Count()
    with pytest.warns(RuntimeWarning, match="resuming from the newest finite one"):
        train.fit(ts, step, _data(), epochs=5, resume=True, resume_hparams="current", on_nonfinite="continue",
                  callbacks=count, **kwargs)
    assert count.epochs == list(range(int(finite[-15:-6]) + 1, 6))  # ckpt_<epoch>.jaxnn


def test_resuming_a_run_that_ended_returns_it_without_training(tmp_path):
    ts, step, eval_step = _run(lr=0.5)
    kwargs = {**KW, "eval_data": _data(3, 16), "eval_step": eval_step, "patience": 1, "metric": "val_loss",
              "checkpoint_dir": tmp_path}
    out, history = train.fit(ts, step, _data(), epochs=30, **kwargs)
    assert history["stopped_epoch"] < 30
    count = _Count()
    again, again_history = train.fit(ts, step, _data(), epochs=30, resume=True, callbacks=count, **kwargs)
    assert count.epochs == [] and _bits(again) == _bits(out)
    assert again_history["epoch"] == history["epoch"]
    assert again_history["stopped_epoch"] == history["stopped_epoch"]

    done = tmp_path / "all"
    out, _ = train.fit(ts, step, _data(), epochs=2, checkpoint_dir=done, **KW)
    again, _ = train.fit(ts, step, _data(), epochs=2, checkpoint_dir=done, resume=True, callbacks=count, **KW)
    assert count.epochs == [] and _bits(again) == _bits(out)


def test_bad_checkpoint_dir_and_unknown_metric_are_refused_before_training(tmp_path):
    ts, step, eval_step = _run()
    count = _Count()
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ValueError, match="checkpoint_dir=.*file.* is a file, not a folder"):
        train.fit(ts, step, _data(), epochs=2, checkpoint_dir=tmp_path / "file", callbacks=count, **KW)
    with pytest.raises(ValueError, match="checkpoint_every=0 is not allowed"):
        train.fit(ts, step, _data(), epochs=2, checkpoint_dir=tmp_path, checkpoint_every=0, callbacks=count, **KW)
    with pytest.raises(ValueError, match=r"metric='val_acc' is not recorded .*'val_accuracy', 'val_loss'"):
        train.fit(ts, step, _data(), epochs=2, eval_data=_data(3, 16), eval_step=eval_step, patience=2,
                  metric="val_acc", callbacks=count, **KW)
    assert count.epochs == []


@pytest.mark.parametrize("flag", ["overwrite", "resume", "drop_last", "restore_best", "progress"])
def test_fit_refuses_a_non_bool_flag_naming_it(flag):
    x = np.ones((8, 3), np.float32)
    y = np.zeros(8, np.int32)
    model = nn.Sequential([nn.Dense(2)])
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (3,))
    with pytest.raises(TypeError, match=f"{flag}='no' is not allowed: it must be True or False"):
        train.fit(ts, train.make_train_step(model, optim.sgd(0.1)), (x, y), 1, 4, **{flag: "no"})


def test_seed_keys_refuses_no_rows_and_seeds_jax_would_wrap():
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        train.seed_keys(0, 0)
    with pytest.raises(ValueError, match="key=4294967296 is not allowed"):
        train.seed_keys(2**32, 2)
