"""Hyperband: the paper's brackets, one compilation for every rung of every bracket, the best of the finalists."""

import numpy as np
import pytest

from jaxnn import sweep, train
from jaxnn.sweep import engine

from . import compiles
from .common import BATCH, DATA, make_build

SPACE = sweep.Space(lr=sweep.log_uniform(0.01, 0.5), wd=sweep.log_uniform(1e-5, 1e-2))


def test_brackets_equal_the_papers_table():
    # Li et al. 2017, Table 1 (R = 81, eta = 3): (n_i, r_i) of every rung of brackets s = 4 ... 0.
    assert sweep.hyperband_brackets(81, 3) == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    # R not a power of eta: s_max = floor(log_2 10) = 3, budgets floor(R / eta**(s - i)), the last one R.
    assert sweep.hyperband_brackets(10, 2) == [[(8, 1), (4, 2), (2, 5), (1, 10)], [(6, 2), (3, 5), (1, 10)],
                                               [(4, 5), (2, 10)], [(4, 10)]]
    assert sweep.hyperband_brackets(1, 3) == [[(1, 1)]]


@pytest.fixture(scope="module")
def searched():
    """R = 9, eta = 3: brackets of 9, 5 and 3 configs, with the names each Sweep.train call compiled."""
    monkeypatch = pytest.MonkeyPatch()
    calls = compiles.per_call(monkeypatch, engine.Sweep, "train")
    result = sweep.hyperband(make_build(), SPACE, DATA, batch_size=BATCH, max_epochs=9, key=3, progress=False)
    monkeypatch.undo()
    return result, calls


def test_every_rung_of_every_bracket_reuses_the_compiled_programs(searched):
    result, calls = searched
    assert len(calls) == 6  # 3 + 2 + 1 rungs
    assert any("run" in name for name in calls[0])  # the first rung compiled the epoch and the evaluation
    later = [name for call in calls[1:] for name in call]
    assert set(later) <= {"jit(_select_rows)"} and len(later) <= 1  # then at most the survivors' state gather, once


def test_the_table_follows_the_plan_and_the_survivors(searched):
    result, _ = searched
    plan = sweep.hyperband_brackets(9, 3)
    expected = [{"bracket": s, "rung": i, "configs": n, "epochs": e, "survivors": rungs[i + 1][0] if i + 1 <
                 len(rungs) else 0} for s, rungs in zip((2, 1, 0), plan) for i, (n, e) in enumerate(rungs)]
    assert result.rungs == expected
    assert result.sweep.configs.rows == SPACE.sample(3, 17).rows
    # Bracket 2 (configs 0-8): 6 stop after 1 epoch, 2 after 3, 1 reaches 9; bracket 1 (9-13): 4 stop at 3;
    # bracket 0 (14-16) all train 9.
    epochs = result.sweep.epochs
    assert sorted(epochs[:9].tolist()) == [1] * 6 + [3] * 2 + [9]
    assert sorted(epochs[9:14].tolist()) == [3] * 4 + [9] and epochs[14:].tolist() == [9] * 3
    assert result.config_epochs == epochs.sum() == 6 + 6 + 9 + 12 + 9 + 27
    # A config's history is NaN exactly past the epochs it trained.
    trained = ~np.isnan(result.sweep.history["val_loss"][:, 0])
    np.testing.assert_array_equal(trained.sum(axis=1), epochs)


def test_best_is_the_best_finalist(searched):
    result, _ = searched
    final = result.sweep.history["val_loss"][:, 0, -1]
    finalists = np.flatnonzero(result.sweep.epochs == 9)
    best = result.best()
    assert best["index"] == finalists[np.nanargmin(final[finalists])]
    assert best["val_loss"] == pytest.approx(np.nanmin(final[finalists]))
    assert "bracket" in result.table().splitlines()[0] and len(result.table().splitlines()) == 7


def test_survivors_continue_their_runs(searched):
    # Bracket 0's configs train 9 epochs in one rung: the same as sweep.run of those configs for 9 epochs.
    result, _ = searched
    direct = sweep.run(make_build(), sweep.Configs(result.sweep.configs.rows, SPACE.fields), DATA, epochs=9,
                       batch_size=BATCH, key=3, progress=False)
    winner = result.best()["index"]
    np.testing.assert_allclose(result.sweep.history["val_loss"][winner], direct.history["val_loss"][winner],
                               rtol=1e-5)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(max_epochs=0), "max_epochs=0 must be an int >= 1"), (dict(max_epochs=2.5), "max_epochs=2.5"),
    (dict(eta=1), "eta=1 must be an int >= 2"), (dict(metric="val_acc"), "unknown metric 'val_acc'"),
    (dict(space={"lr": 0.1}), "must be a sweep.Space"),
])
def test_bad_arguments_raise_before_training(kwargs, message, monkeypatch):
    monkeypatch.setattr(train.trainer, "run_epoch", lambda *a, **k: pytest.fail("trained before checking"))
    arguments = dict(space=SPACE, max_epochs=3) | kwargs
    space = arguments.pop("space")
    with pytest.raises(ValueError, match=message):
        sweep.hyperband(make_build(), space, DATA, batch_size=BATCH, progress=False, **arguments)
