"""The Optuna bridge: trials train exactly as ``sweep.run``'s configs, the study's pruner freezes rows, the study is
told what the rows recorded, equal batches compile nothing again, and bad arguments raise before any trial."""

import jax
import numpy as np
import pytest

from jaxnn import sweep
from jaxnn.sweep import engine
from jaxnn.sweep.optuna import _freeze, optimize
from tests.child import run_python

from .common import BATCH, BUILD, CONFIGS, DATA, make_build

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState

SPACE = sweep.Space(lr=sweep.log_uniform(0.01, 0.5), wd=sweep.uniform(0.0, 1e-2))
ROWS = 3  # every test asks batches of 3, so they share one compiled program
EPOCHS = 2


class PruneAt(optuna.pruners.BasePruner):
    """Prunes trial ``number`` once it has reported step ``step``, and nothing else."""

    def __init__(self, number: int, step: int):
        self.number, self.step = number, step

    def prune(self, study, trial) -> bool:
        return trial.number == self.number and (trial.last_step or 0) >= self.step


def _study(pruner=None, params=(), direction="minimize"):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=pruner or optuna.pruners.NopPruner(), direction=direction)
    for p in params:
        study.enqueue_trial(p)
    return study


@pytest.fixture(scope="module")
def reference():
    # Chunks of 3 rows, as the bridge's batches: one compiled epoch serves both (results do not depend on chunks).
    return sweep.run(BUILD, CONFIGS, DATA, epochs=EPOCHS, batch_size=BATCH, chunk_size=ROWS, progress=False)


@pytest.fixture(scope="module")
def bridged():
    study = _study(params=CONFIGS)
    # Batches of 3 and of 1 (padded to 3): trial n must still train as config n of sweep.run.
    return study, optimize(study, BUILD, DATA, space=SPACE, n_trials=4, batch=ROWS, epochs=EPOCHS, batch_size=BATCH)


def test_trials_train_as_the_same_configs_in_sweep_run(reference, bridged):
    study, result = bridged
    assert [t.params for t in study.trials] == list(CONFIGS)
    assert result.configs.rows == list(CONFIGS)
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(result.history[name], reference.history[name], rtol=1e-5, atol=1e-6)
    assert result.epochs.tolist() == [EPOCHS] * 4 and (result.diverged_at == -1).all()


def test_the_study_is_told_the_recorded_metric(bridged):
    study, result = bridged
    assert len(study.trials) == 4 and all(t.state == State.COMPLETE for t in study.trials)
    val_loss = result.history["val_loss"][:, 0].astype(np.float64)
    assert [t.value for t in study.trials] == val_loss[:, -1].tolist()
    assert [t.intermediate_values for t in study.trials] == [{1: a, 2: b} for a, b in val_loss.tolist()]


def test_a_pruned_row_stops_and_the_others_are_unchanged(bridged):
    _, full = bridged
    study = _study(PruneAt(number=1, step=1), CONFIGS[:3])
    result = optimize(study, BUILD, DATA, space=SPACE, n_trials=3, batch=ROWS, epochs=EPOCHS, batch_size=BATCH)
    assert [t.state for t in study.trials] == [State.COMPLETE, State.PRUNED, State.COMPLETE]
    assert study.trials[1].intermediate_values == {1: float(full.history["val_loss"][1, 0, 0])}
    assert result.epochs.tolist() == [2, 1, 2]
    for name, h in result.history.items():
        assert np.isnan(h[1, 0, 1:]).all(), name  # nothing recorded after the prune
        np.testing.assert_array_equal(h[[0, 2]], full.history[name][[0, 2]])  # the guard's select is per row
        np.testing.assert_array_equal(h[1, 0, :1], full.history[name][1, 0, :1])


def test_freeze_keeps_a_rows_state_bitwise():
    s = engine.Sweep(BUILD, CONFIGS[:3], DATA, batch_size=BATCH, progress=False)
    rows = np.arange(3)
    states = _freeze(s.train(rows, 1, keep_states=True).states, np.array([1]))
    (before,) = (chunk.rows for chunk in states)
    (after,) = (chunk.rows for chunk in s.train(rows, 1, 1, states, keep_states=True).states)
    plain = [ts._replace(key=jax.random.key_data(ts.key)) for ts in (before.ts, after.ts)]
    for old, new in zip(*map(jax.tree.leaves, plain)):
        np.testing.assert_array_equal(np.asarray(new)[1], np.asarray(old)[1])
    changed = [not np.array_equal(np.asarray(o)[[0, 2]], np.asarray(n)[[0, 2]])
               for o, n in zip(jax.tree.leaves(before.ts.params), jax.tree.leaves(after.ts.params))]
    assert all(changed)


def test_a_diverging_trial_is_told_fail():
    space = sweep.Space(lr=sweep.log_uniform(0.01, 1e4), wd=sweep.uniform(0.0, 1e-2))
    study = _study(params=[{"lr": 1e3, "wd": 0.0}, CONFIGS[0]])  # lr=1e3 overflows in the third epoch
    result = optimize(study, BUILD, DATA, space=space, n_trials=2, batch=ROWS, epochs=3, batch_size=BATCH)
    assert [t.state for t in study.trials] == [State.FAIL, State.COMPLETE]
    assert result.diverged.tolist() == [True, False] and result.diverged_at[0, 0] >= 0
    assert np.isnan(result.history["val_loss"][0, 0, -1])


_compiles = []


def _count(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _compiles.append(event)


jax.monitoring.register_event_duration_secs_listener(_count)


def test_equal_batches_compile_nothing_again(bridged):
    # bridged compiled batches of 3 rows; these are two more (3 trials, then 2 padded with a frozen row).
    before = len(_compiles)
    study = _study()
    result = optimize(study, BUILD, DATA, space=SPACE, n_trials=5, batch=ROWS, epochs=EPOCHS, batch_size=BATCH)
    assert len(_compiles) == before
    assert len(study.trials) == 5 and result.epochs.tolist() == [EPOCHS] * 5


def test_suggest_spaces_with_static_choices():
    def suggest(trial):
        return {"lr": trial.suggest_float("lr", 0.01, 0.5, log=True), "wd": trial.suggest_float("wd", 0.0, 0.01),
                "optimizer": trial.suggest_categorical("optimizer", ["sgd", "adam"]), "scale": 2}

    build = make_build()
    params = [{**CONFIGS[1], "optimizer": "sgd"}, {**CONFIGS[2], "optimizer": "adam"}]
    study = _study(params=params)
    result = optimize(study, build, DATA, suggest=suggest, n_trials=2, batch=ROWS, epochs=EPOCHS,
                      batch_size=BATCH)
    configs = [{**p, "scale": 2} for p in params]
    assert result.configs.rows == configs and not result.configs.specs["scale"].static
    # Each group padded to the bridge's 3 rows, so sweep.run reuses its compiled programs; configs 0 and 1 are
    # the trials' (their keys are config_key(0, 0) and config_key(0, 1)).
    alone = sweep.run(build, configs * ROWS, DATA, epochs=EPOCHS, batch_size=BATCH, progress=False)
    np.testing.assert_allclose(result.history["val_loss"], alone.history["val_loss"][:2], rtol=1e-5, atol=1e-6)


def test_timeout_ends_after_the_first_batch():
    study = _study()
    optimize(study, BUILD, DATA, space=SPACE, timeout=1e-9, batch=ROWS, epochs=1, batch_size=BATCH)
    assert len(study.trials) == ROWS and all(t.state == State.COMPLETE for t in study.trials)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_trials": 0}, ValueError, "n_trials=0"),
    ({"batch": 0}, ValueError, "batch=0"),
    ({"epochs": 1.0}, ValueError, "epochs=1.0"),
    ({"timeout": -1.0}, ValueError, "timeout=-1.0"),
    ({"n_trials": None}, ValueError, "never end"),
    ({"suggest": lambda t: {}}, ValueError, "exactly one of space"),
    ({"space": None}, ValueError, "exactly one of space"),
    ({"mode": "best"}, ValueError, "mode='best'"),
    ({"metric": "val_accuracy"}, ValueError, "should be maximized, but the study minimizes"),
    ({"seeds": 2}, ValueError, "seeds= is not supported"),
    ({"space": sweep.Space(lr=sweep.choice([np.zeros(2)], static=True))}, ValueError, "field 'lr'"),
    ({"study": "study"}, TypeError, "must be an optuna.Study"),
    ({"study": optuna.create_study(directions=["minimize", "maximize"])}, ValueError, "2 objectives"),
])
def test_bad_arguments_raise_before_any_trial_is_asked(kwargs, error, match):
    args = {"study": _study(), "space": SPACE, "n_trials": 2, "batch": ROWS, "epochs": 1, **kwargs}
    with pytest.raises(error, match=match):
        optimize(build=BUILD, data=DATA, batch_size=BATCH, **args)
    if hasattr(args["study"], "trials"):
        assert args["study"].trials == []


def test_an_unknown_metric_raises_before_training_and_fails_the_asked_trials():
    study = _study()
    with pytest.raises(ValueError, match="metric='val_lossy' is not recorded"):
        optimize(study, BUILD, DATA, space=SPACE, n_trials=2, batch=ROWS, epochs=1, batch_size=BATCH,
                 metric="val_lossy")
    assert [t.state for t in study.trials] == [State.FAIL, State.FAIL]


def test_import_jaxnn_does_not_import_optuna():
    out = run_python("""
        import sys
        import jaxnn
        print("optuna" in sys.modules, callable(jaxnn.sweep.optuna.optimize))
    """).stdout
    assert out.split() == ["False", "True"]
