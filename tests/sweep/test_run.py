"""sweep.run: equals config-by-config training, groups static choices, chunks, diverges safely, seeds, errors."""

import jax
import numpy as np
import pytest

from jaxnn import data, nn, optim, sweep, train

from .common import BATCH, BUILD, CONFIGS, DATA, N, make_build

(X, Y), (EX, EY) = jax.tree.map(jax.numpy.asarray, DATA)


def _run(configs=CONFIGS, build=BUILD, epochs=2, **kwargs):
    return sweep.run(build, configs, DATA, epochs=epochs, batch_size=BATCH, progress=False, **kwargs)


@pytest.fixture(scope="module")
def standard():
    """The suite's most shared program: BUILD over the four CONFIGS in one chunk."""
    return _run()


def _subset(rows):
    return sweep.Configs(rows, CONFIGS.specs)


def _equal(a, b, rows_a=slice(None), rows_b=slice(None)):
    for name in a.history:
        np.testing.assert_array_equal(a.history[name][rows_a], b.history[name][rows_b], err_msg=name)


def test_own_order_equals_train_fit_config_by_config():
    # BatchNorm state, dropout keys, per-run shuffles and seeds all have to line up with a plain train.fit.
    build = make_build(dropout=True, batchnorm=True)
    configs = sweep.grid(lr=[0.05, 0.2], dropout=[0.0, 0.3])
    result = _run(configs, build, seeds=2, key=5, shared_order=False)
    i, seed = 3, 1  # lr=0.2 with dropout 0.3, second seed (each fit compiles anew: one is enough)
    trial = build({k: np.float32(v) for k, v in configs[i].items()})
    ts = train.create(trial.model, trial.optimizer, sweep.config_key(5, i, seed), (X.shape[1],))
    _, history = train.fit(ts, train.make_train_step(trial.model, trial.optimizer), (X, Y), epochs=2,
                           batch_size=BATCH, eval_data=(EX, EY), eval_step=train.make_eval_step(trial.model),
                           progress=False)
    for name, ref in [("loss", "loss"), ("val_loss", "val_loss"), ("val_accuracy", "val_accuracy")]:
        np.testing.assert_allclose(result.history[name][i, seed], history[ref], rtol=2e-5, atol=1e-6)
    assert not np.array_equal(result.history["val_loss"][i, 0], result.history["val_loss"][i, 1])


@pytest.mark.parametrize("seed", [5, 2**32 - 1])
def test_config_and_order_keys_are_the_documented_derivations_of_the_seed(seed):
    root = jax.random.key(seed)
    expected = jax.random.fold_in(jax.random.fold_in(jax.random.split(root)[1], 3), 1)
    np.testing.assert_array_equal(jax.random.key_data(sweep.config_key(seed, 3, 1)), jax.random.key_data(expected))
    np.testing.assert_array_equal(jax.random.key_data(sweep.order_key(seed)),
                                  jax.random.key_data(jax.random.split(root)[0]))


def test_a_traced_init_scale_draws_as_train_create_does_with_the_config_key():
    # Row i's init is train.create's with config_key(key, i): the one draw per model, with a traced std.
    def build(hp):
        model = nn.Sequential([nn.Dense(8, w_init=nn.init.normal(hp["std"]), b_init=nn.init.uniform(0.1)), nn.relu,
                               nn.Dense(2, w_init=nn.init.he_uniform())])
        return sweep.Trial(model, optim.sgd(0.1))

    configs = sweep.grid(std=[0.05, 1.0])
    result = _run(configs, build, epochs=1, key=7, shared_order=False)
    for i, config in enumerate(configs):
        trial = build({"std": np.float32(config["std"])})
        ts = train.create(trial.model, trial.optimizer, sweep.config_key(7, i), (X.shape[1],))
        _, history = train.fit(ts, train.make_train_step(trial.model, trial.optimizer), (X, Y), epochs=1,
                               batch_size=BATCH, eval_data=(EX, EY), eval_step=train.make_eval_step(trial.model),
                               progress=False)
        for name in ("loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(result.history[name][i, 0], history[name], rtol=2e-5, atol=1e-6)
    assert abs(result.history["val_loss"][0, 0, 0] - result.history["val_loss"][1, 0, 0]) > 1e-3


def test_shared_order_equals_a_sequential_loop(standard):
    # One config at a time, no vmap: every config trains on train.epoch_batches(order_key) like the others.
    def train_one(hp, key):
        trial = BUILD(hp)
        step = train.make_train_step(trial.model, trial.optimizer, l2=trial.l2)
        ts = train.create(trial.model, trial.optimizer, key, (X.shape[1],))
        losses = []
        for epoch in range(2):
            batches, _ = train.epoch_batches(sweep.order_key(0), epoch, N, BATCH)
            ts, metrics = jax.lax.scan(lambda ts, idx: step(ts, (X[idx], Y[idx])), ts, batches)
            losses.append(metrics["loss"].mean())
        return jax.numpy.stack(losses), train.make_eval_step(trial.model)(ts, (EX, EY))["loss"]

    train_one = jax.jit(train_one)
    for i, config in enumerate(CONFIGS):
        losses, val_loss = train_one({k: np.float32(v) for k, v in config.items()}, sweep.config_key(0, i))
        np.testing.assert_allclose(standard.history["loss"][i, 0], losses, rtol=2e-5)
        np.testing.assert_allclose(standard.history["val_loss"][i, 0, -1], val_loss, rtol=2e-5)


def _traced(calls):
    """The calls of build that traced a program; the others are the host-side checks of concrete values."""
    return [hp for hp in calls if isinstance(hp["lr"], jax.core.Tracer)]


def test_static_choices_form_one_program_per_group():
    calls = []
    build = make_build(calls)
    configs = sweep.grid(optimizer=["sgd", "adam"], lr=[0.05, 0.2])
    result = _run(configs, build)
    calls = _traced(calls)
    assert {hp["optimizer"] for hp in calls} == {"sgd", "adam"}
    assert all(isinstance(hp["optimizer"], str) for hp in calls)
    # The adam group trains exactly as it does next to other sgd configs: groups are separate programs.
    other = sweep.Configs([{"optimizer": "sgd", "lr": 0.1}, {"optimizer": "sgd", "lr": 0.3}, *configs[2:]],
                          configs.specs)
    _equal(result, _run(other, build), slice(2, 4), slice(2, 4))
    assert result.best(1)[0]["optimizer"] in ("sgd", "adam")


def test_chunks_equal_one_chunk_and_compile_once(standard):
    calls = []
    build = make_build(calls)
    chunked = _run(build=build, chunk_size=2)  # two chunks of 2 rows
    np.testing.assert_allclose(chunked.history["val_loss"], standard.history["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(chunked.history["loss"], standard.history["loss"], rtol=1e-5)
    traced = len(_traced(calls))
    # build traced once each for init, the train step and the eval step, and once each from shapes when the
    # sweep checks every group before training (issue 12 cause 10)
    assert traced == 6
    # Seven configs in four chunks of the same size (the last padded): nothing is traced or compiled again, and
    # a config's result does not depend on its chunk or on how many configs run.
    more = _subset([*CONFIGS, *CONFIGS[:3]])
    again = _run(more, build, chunk_size=2)
    assert len(_traced(calls)) == traced
    _equal(again, chunked, slice(0, 4), slice(0, 4))


def test_rows_split_into_the_fewest_equal_chunks(monkeypatch):
    # Five configs under a cap of 4 rows: two chunks of 3 (one padding row), not 4 and 1 padded to 4.
    sizes, run_chunk = [], sweep.engine.Sweep._run_chunk
    monkeypatch.setattr(sweep.engine.Sweep, "_run_chunk",
                        lambda self, program, rows, *a: sizes.append(int(rows.diverged_at.shape[0]))
                        or run_chunk(self, program, rows, *a))
    _run(_subset([*CONFIGS, CONFIGS[0]]), chunk_size=4)
    assert sizes == [3, 3]


def test_a_diverging_config_leaves_the_others_bitwise_unchanged():
    configs = [dict(c) for c in CONFIGS]
    configs[1]["lr"] = 0.1
    calm = _run(_subset(configs), epochs=3)
    configs[1]["lr"] = 1e3  # overflows in its ninth step, in the third epoch
    result = _run(_subset(configs), epochs=3)
    others = [0, 2, 3]
    _equal(result, calm, others, others)
    assert result.diverged.tolist() == [False, True, False, False]
    assert result.diverged_at[1, 0] >= 0 and (result.diverged_at[others] == -1).all()
    epoch = result.diverged_at[1, 0] // (N // BATCH)  # the epoch it diverged in and later ones are NaN
    assert np.isnan(result.history["loss"][1, 0, epoch:]).all()
    assert np.isfinite(result.history["loss"][1, 0, :epoch]).all()
    assert np.isnan(result.history["val_loss"][1, 0, epoch:]).all()
    assert [row["index"] for row in result.best(4)] == [i for i in calm.ranking() if i != 1]
    assert result.ranking()[-1] == 1 and "diverged@" in result.table().splitlines()[-1]


def test_seeds_are_reproducible_and_independent_of_the_rest(standard):
    two = _subset(CONFIGS[:2])
    result = _run(two, seeds=2)  # four rows, like the standard sweep
    _equal(result, _run(two, seeds=2))
    _equal(result, standard, (slice(0, 2), slice(0, 1)), (slice(0, 2), slice(0, 1)))  # seed 0 is the seeds=1 run
    assert not np.array_equal(result.history["val_loss"][:, 0], result.history["val_loss"][:, 1])
    mean, std = result.summary("val_loss")
    np.testing.assert_allclose(mean, result.final["val_loss"].mean(axis=1))
    assert (std > 0).all()
    other_key = _run(two, seeds=2, key=1)
    assert not np.array_equal(other_key.history["val_loss"], result.history["val_loss"])


def test_dataset_inputs_evaluate_on_val_else_test(standard):
    train_split, eval_split = data.Split(X, Y), data.Split(EX, EY)
    junk = data.Split(EX[::-1].copy(), EY)
    with_val = sweep.run(BUILD, CONFIGS, data.Dataset(train_split, junk, eval_split), epochs=2, batch_size=BATCH,
                         progress=False)
    without_val = sweep.run(BUILD, CONFIGS, data.Dataset(train_split, eval_split), epochs=2, batch_size=BATCH)
    _equal(with_val, standard)
    _equal(without_val, standard)
    assert standard.wall_time > 0 and standard.compile_time >= 0
    assert standard.epochs.tolist() == [2] * 4


def test_checkpoints_skip_finished_chunks(tmp_path, monkeypatch):
    kwargs = dict(seeds=2, chunk_size=4, checkpoint_dir=tmp_path)  # two chunks of four rows
    first = _run(**kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk_00000.jaxnn", "chunk_00001.jaxnn"]
    epochs_run, run_epoch = [], train.trainer.run_epoch

    def counting(*args, **kwargs):
        epochs_run.append(args[4])
        return run_epoch(*args, **kwargs)

    monkeypatch.setattr(train.trainer, "run_epoch", counting)
    _equal(_run(**kwargs), first)
    assert epochs_run == []  # nothing retrained
    (tmp_path / "chunk_00001.jaxnn").unlink()
    _equal(_run(**kwargs), first)
    assert len(epochs_run) == 2  # only the missing chunk, two epochs
    with pytest.raises(ValueError, match="different sweep"):
        _run(epochs=3, **kwargs)


class _NotALayer:
    pass


@pytest.mark.parametrize(("build", "error", "message"), [
    (lambda hp: (1, 2), TypeError, "got tuple"),
    (lambda hp: {"model": BUILD(hp).model}, TypeError, "needs model and optimizer"),
    (lambda hp: {**BUILD(hp)._asdict(), "lr": 1}, TypeError, "unknown: lr"),
    (lambda hp: BUILD(hp)._replace(model=_NotALayer()), TypeError, "not a layer"),
    (lambda hp: BUILD(hp)._replace(optimizer=lambda g: g), TypeError, "not a jaxnn.optim.Optimizer"),
])
def test_build_returning_the_wrong_thing(build, error, message):
    with pytest.raises(error, match=message):
        _run(build=build)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(configs=[]), "configs is empty"),
    (dict(configs=_subset([])), "configs is empty"),
    (dict(epochs=0), "epochs=0"),
    (dict(batch_size=N + 1), "batch_size=129"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(seeds=0), "seeds=0"),
    (dict(chunk_size=0), "chunk_size=0"),
    (dict(memory_budget=-1), "memory_budget=-1"),
])
def test_bad_arguments(kwargs, message):
    args = dict(configs=CONFIGS, epochs=2, batch_size=BATCH) | kwargs
    with pytest.raises(ValueError, match=message):
        sweep.run(BUILD, args.pop("configs"), DATA, progress=False, **args)


def test_bad_data():
    with pytest.raises(TypeError, match="data must be"):
        sweep.run(BUILD, CONFIGS, None, epochs=1, batch_size=BATCH)
    with pytest.raises(ValueError, match="same number of examples"):
        sweep.run(BUILD, CONFIGS, ((X, Y[:5]), (EX, EY)), epochs=1, batch_size=BATCH)
    with pytest.raises(TypeError, match="build must be"):
        sweep.run(None, CONFIGS, DATA, epochs=1, batch_size=BATCH)


def test_named_eval_sets_and_recorders(standard):
    result = _run(eval_sets={"test": (EX[:20], EY[:20]), "again": (EX, EY)}, recorders={"hp": train.record_hparams})
    np.testing.assert_array_equal(result.history["again_loss"], result.history["val_loss"])
    np.testing.assert_array_equal(result.history["val_loss"], standard.history["val_loss"])
    assert result.history["test_accuracy"].shape == standard.history["val_accuracy"].shape
    lrs = np.array([c["lr"] for c in CONFIGS], np.float32)
    np.testing.assert_array_equal(result.history["hp_lr"][:, 0, -1], lrs)  # plain sgd: lr stays the config's


def test_recorded_names_may_not_shadow_config_fields():
    with pytest.raises(ValueError, match=r"recorded names \['lr'\] are also config fields"):
        _run(recorders={"lr": lambda ts: ts.step})


def test_trial_grad_norm_records_the_mean_gradient_norm_as_fit_does():
    def build(hp):
        return BUILD(hp)._replace(grad_norm=True)

    configs = _subset([CONFIGS[1]])
    result = _run(configs, build, shared_order=False, key=3)
    trial = build({k: np.float32(v) for k, v in CONFIGS[1].items()})
    ts = train.create(trial.model, trial.optimizer, sweep.config_key(3, 0), (X.shape[1],))
    step = train.make_train_step(trial.model, trial.optimizer, l2=trial.l2, grad_norm=True)
    _, history = train.fit(ts, step, (X, Y), epochs=2, batch_size=BATCH, progress=False)
    np.testing.assert_allclose(result.history["grad_norm"][0, 0], history["grad_norm"], rtol=2e-5)
    assert "grad_norm" not in _run(_subset([CONFIGS[1]])).history
    with pytest.raises(TypeError, match="grad_norm='yes' must be a bool"):
        _run(configs, lambda hp: BUILD(hp)._replace(grad_norm="yes"))
