"""coarse_to_fine and successive halving: ranges shrink as computed by hand; survivors continue, not restart."""

import warnings

import jax
import numpy as np
import pytest

from jaxnn import sweep, train
from jaxnn.sweep import engine, search
from jaxnn.sweep.space import Choice, Fixed, LogUniform, Uniform

from . import compiles
from .common import BATCH, BUILD, CONFIGS, DATA, SPACE, make_build, make_result


def test_shrink_to_the_span_of_the_best_fraction():
    # Five finite configs (5 diverged): keep=0.5 keeps ceil(2.5) = 3, the configs 3, 2 and 4.
    narrowed = sweep.shrink(SPACE, make_result(), keep=0.5)
    assert narrowed.fields == {"lr": LogUniform(3e-3, 1e-1), "dropout": Uniform(0.0, 0.4),
                               "opt": Choice(("sgd", "adam"), static=True)}
    lr = np.array([c["lr"] for c in narrowed.sample(0, 100)])
    assert lr.min() >= np.float32(3e-3) and lr.max() <= np.float32(1e-1)
    assert np.median(lr) < 0.03  # sampled in log space: the median is near the geometric mean, 0.017
    single = sweep.shrink(SPACE, make_result(), keep=0.2)  # one config: every field collapses to its value
    assert single.fields == {"lr": Fixed(1e-1), "dropout": Fixed(0.4), "opt": Choice(("adam",), static=True)}


def test_shrink_errors():
    with pytest.raises(ValueError, match="keep=0"):
        sweep.shrink(SPACE, make_result(), keep=0)
    with pytest.raises(ValueError, match="every config diverged"):
        sweep.shrink(SPACE, make_result(diverged=range(6)))


def test_warns_when_the_best_value_is_on_the_edge():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sweep.warn_edges(SPACE, make_result())  # best: lr=0.1 (3/4 of the log range), dropout=0.4 (4/5)
        assert not caught
        sweep.warn_edges(SPACE, make_result(diverged=()))  # best: config 5, lr=0.9 and dropout=0.5
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert messages[0].startswith("the best lr=0.9 sits at the high edge") and "dropout=0.5" in messages[1]


def test_coarse_to_fine_samples_each_round_from_the_shrunk_space():
    space = sweep.Space(lr=sweep.log_uniform(0.01, 0.5), wd=sweep.log_uniform(1e-5, 1e-2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = sweep.coarse_to_fine(space, BUILD, DATA, rounds=2, n=4, keep=0.5, epochs=1, batch_size=BATCH,
                                       progress=False)
    assert len(results) == 2 and results[0].configs.specs == space.fields
    narrowed = sweep.shrink(space, results[0], keep=0.5)
    assert results[1].configs.specs == narrowed.fields
    assert results[1].configs.rows == narrowed.sample(jax.random.fold_in(jax.random.key(0), 1), 4).rows
    with pytest.raises(ValueError, match="rounds=0"):
        sweep.coarse_to_fine(space, BUILD, DATA, rounds=0, n=4, epochs=1, batch_size=BATCH)


def test_successive_halving_keeps_the_best_and_continues_them():
    full = sweep.run(BUILD, CONFIGS, DATA, epochs=2, batch_size=BATCH, progress=False)
    result = sweep.successive_halving(BUILD, CONFIGS, DATA, batch_size=BATCH, eta=2, rungs=2, progress=False)
    survivors = sorted(np.argsort(full.history["val_loss"][:, 0, 0])[:2])  # the best two after one epoch
    assert result.epochs.tolist() == [2 if i in survivors else 1 for i in range(4)]
    # Rung 0 is the first epoch of the full run; survivors' second epochs continue it (a restart would repeat
    # the first epoch's values), the others stop.
    np.testing.assert_array_equal(result.history["val_loss"][:, :, 0], full.history["val_loss"][:, :, 0])
    np.testing.assert_allclose(result.history["val_loss"][survivors], full.history["val_loss"][survivors],
                               rtol=1e-5)
    eliminated = [i for i in range(4) if i not in survivors]
    assert np.isnan(result.history["val_loss"][eliminated, :, 1]).all()
    assert sorted(r["index"] for r in result.best(2)) == survivors


def test_successive_halving_resumes_from_checkpoints(tmp_path, monkeypatch):
    kwargs = dict(batch_size=BATCH, eta=2, rungs=2, progress=False, checkpoint_dir=tmp_path)
    first = sweep.successive_halving(BUILD, CONFIGS, DATA, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rung_0", "rung_1"]
    monkeypatch.setattr(train.trainer, "run_epoch", lambda *a, **k: pytest.fail("retrained a finished chunk"))
    again = sweep.successive_halving(BUILD, CONFIGS, DATA, **kwargs)
    np.testing.assert_array_equal(again.history["val_loss"], first.history["val_loss"])
    assert again.epochs.tolist() == first.epochs.tolist()


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(eta=1), "eta=1"), (dict(min_epochs=0), "min_epochs=0"), (dict(rungs=0), "rungs=0"),
    (dict(metric="val_acc"), "unknown metric 'val_acc'"),
])
def test_successive_halving_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sweep.successive_halving(BUILD, CONFIGS, DATA, batch_size=BATCH, progress=False, **kwargs)


def test_coarse_to_fine_refuses_results_on_process_zero_only():
    space = sweep.Space(lr=sweep.log_uniform(1e-3, 1e-1))
    with pytest.raises(ValueError, match="all_processes=False is not supported"):
        sweep.coarse_to_fine(space, BUILD, DATA, rounds=2, n=2, epochs=1, batch_size=BATCH, all_processes=False)


def test_halving_rungs_after_the_first_compile_only_the_state_select(monkeypatch):
    calls = compiles.per_call(monkeypatch, engine.Sweep, "train")
    build = make_build()  # a build of its own: its programs compile in this test, whatever ran before
    configs = sweep.grid(lr=[0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    result = sweep.successive_halving(build, configs, DATA, batch_size=BATCH, eta=3, progress=False)
    assert result.epochs.tolist().count(9) == 1 and result.epochs.tolist().count(3) == 2
    assert len(calls) == 3 and any("run" in name for name in calls[0])  # rung 0 compiled the epoch
    # Rung 1 gathers the survivors' states from rung 0's chunks (one small program); nothing else compiles.
    assert set(calls[1]) <= {"jit(_select_rows)"} and calls[2] == []


def test_chunk_sizes_minimise_the_modelled_time_of_all_rungs():
    halving = engine.Sweep(BUILD, sweep.grid(lr=[0.01 * (i + 1) for i in range(27)]), DATA, batch_size=BATCH,
                           progress=False)
    group = next(iter(halving.groups))
    work = search._rung_work(27, [1, 3, 9, 27], 3)
    assert work == [(27, 1), (9, 2), (3, 6), (1, 18)]
    # On the CPU (overhead worth one row): 3 rows per chunk cost 39 chunk-epochs of 4, less than 81 of 2 (one
    # row) or 29 of 10 (nine rows); a single call fills one chunk.
    assert halving.chunk_sizes(work) == {group: 3}
    assert halving.chunk_sizes([(27, 5)]) == {group: 27}
    assert halving.chunk_sizes([(5, 5)]) == {group: 5}
