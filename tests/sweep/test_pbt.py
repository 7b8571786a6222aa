"""Population-based training: exploit copies rows bitwise, explore follows its rule inside the bounds and keeps both
homes of the hyperparameters in step, the run compiles once, is reproducible and beats the unperturbed population."""

import jax
import numpy as np
import pytest

from jaxnn import nn, optim, sweep, train
from jaxnn.sweep import engine
from jaxnn.sweep.pbt import PBTResult, _exploit_explore, _perturb, _rules

from .common import BATCH, DATA, make_build

SPACE = sweep.Space(lr=sweep.log_uniform(0.01, 0.5), wd=sweep.log_uniform(1e-5, 1e-2), dropout=sweep.uniform(0, 0.5),
                    optimizer=sweep.fixed("adam"))
BUILD = make_build(dropout=True, batchnorm=True)  # adam(lr), l2=wd: moments, BatchNorm statistics and a traced hp


def trained_rows(configs):
    """Rows of ``configs`` after one epoch (moments and BatchNorm statistics non-trivial) and the sweep's program."""
    s = engine.Sweep(BUILD, configs, DATA, batch_size=BATCH, progress=False)
    (group,) = s.groups
    return s.train(np.arange(len(configs)), 1, keep_states=True).states[0].rows, s.programs[group]


def configs(lrs):
    return sweep.Configs([{"lr": lr, "wd": 1e-4 * (i + 1), "dropout": 0.1 * i, "optimizer": "adam"}
                          for i, lr in enumerate(lrs)], SPACE.fields)


def candidates(n):
    draws = SPACE.sample(7, n)
    return {name: np.asarray([c[name] for c in draws], np.float32) for name in ("lr", "wd", "dropout")}


def row(tree, i):
    return jax.tree.map(lambda a: np.asarray(a[i]) if not jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)
                        else np.asarray(jax.random.key_data(a[i])), tree)


def assert_same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_exploit_copies_the_source_row_bitwise_except_its_key():
    rows, program = trained_rows(configs([0.02, 0.05, 0.1, 0.2]))
    identity = _exploit_explore(program, _rules(SPACE), 1, 0.0, (1.0,), True)
    scores = np.array([0.3, 0.1, 0.9, 0.5], np.float32)  # row 1 is best, row 2 worst: k = 1, so 2 copies 1
    new, source, _ = identity(rows, jax.random.key(0), scores, candidates(4))
    assert np.asarray(source).tolist() == [0, 1, 1, 3]
    before, after = row(rows, 1), row(new, 2)
    assert jax.tree.leaves(before.ts.model_state) and np.abs(jax.tree.leaves(before.ts.opt_state.mu)[0]).sum() > 0
    with pytest.raises(AssertionError):
        assert_same(row(rows, 2).ts.params, before.ts.params)  # the copy is not a coincidence
    assert_same(after._replace(ts=after.ts._replace(key=0)), before._replace(ts=before.ts._replace(key=0)))
    np.testing.assert_array_equal(after.ts.key, row(rows, 2).ts.key)  # its own dropout stream
    for i in (0, 1, 3):
        assert_same(row(new, i), row(rows, i))


def test_nan_ranks_last_and_bottom_rows_copy_top_rows():
    rows, program = trained_rows(configs([0.02, 0.05, 0.1, 0.2]))
    identity = _exploit_explore(program, _rules(SPACE), 2, 0.0, (1.0,), True)
    scores = np.array([np.nan, 0.1, 0.9, 0.5], np.float32)  # order 1, 3 | 2, 0: rows 0 and 2 copy 1 or 3
    sources = {tuple(np.asarray(identity(rows, jax.random.key(s), scores, candidates(4))[1]).tolist())
               for s in range(12)}
    assert all(src[1] == 1 and src[3] == 3 and src[0] in (1, 3) and src[2] in (1, 3) for src in sources)
    assert len({src[0] for src in sources}) == 2, "sources are drawn from the whole top quantile"
    maximise = _exploit_explore(program, _rules(SPACE), 1, 0.0, (1.0,), False)  # NaN is still last
    assert np.asarray(maximise(rows, jax.random.key(0), scores, candidates(4))[1]).tolist() == [2, 1, 2, 3]


def test_explore_follows_the_factors_within_the_bounds_and_sets_the_optimizer_state():
    lrs = [0.45, 0.02, 0.1, 0.3]  # row 0 is best: x1.2 leaves the range [0.01, 0.5] and is clipped to 0.5
    rows, program = trained_rows(configs(lrs))
    step = _exploit_explore(program, _rules(SPACE), 2, 0.0, (1.2, 0.8), True)
    scores = np.array([0.1, 0.9, 0.8, 0.2], np.float32)  # top 0, 3; rows 1 and 2 explore
    seen = set()
    for s in range(16):
        new, source, hp = jax.device_get(step(rows, jax.random.key(s), scores, candidates(4)))
        for i in (1, 2):
            src = int(source[i])
            for name, low, high in (("lr", 0.01, 0.5), ("wd", 1e-5, 1e-2), ("dropout", 0.0, 0.5)):
                was = np.float32(rows.hp[name][src])
                allowed = {float(np.clip(was * np.float32(f), np.float32(low), np.float32(high))) for f in (1.2, 0.8)}
                assert float(hp[name][i]) in allowed and low <= hp[name][i] <= high
                np.testing.assert_array_equal(new.hp[name][i], hp[name][i])
            seen.add((src, float(hp["lr"][i])))
            # The optimizer state holds what build(new hp) starts with; moments are the source's.
            ts = row(new, i).ts
            fresh = BUILD({"lr": hp["lr"][i], "wd": hp["wd"][i], "dropout": hp["dropout"][i],
                           "optimizer": "adam"}).optimizer.init(ts.params)
            assert_same(optim.current_hparams(ts.opt_state), optim.current_hparams(fresh))
            assert_same(ts.opt_state.mu, row(rows, src).ts.opt_state.mu)
    assert (0, 0.5) in seen and (0, float(np.float32(0.45) * np.float32(0.8))) in seen  # clipped, and x0.8


def test_resampling_draws_from_the_candidates_and_choices_move_to_neighbours():
    rows, program = trained_rows(configs([0.02, 0.05, 0.1, 0.2]))
    drawn = candidates(4)
    resample = _exploit_explore(program, _rules(SPACE), 1, 1.0, (1.2, 0.8), True)
    _, _, hp = resample(rows, jax.random.key(0), np.array([0.3, 0.1, 0.9, 0.5], np.float32), drawn)
    assert {name: float(hp[name][2]) for name in drawn} == {name: float(v[2]) for name, v in drawn.items()}
    rule = ("width", "choice", 1, 8, (1, 2, 4, 8))
    moved = _perturb(rule, np.array([1, 2, 4, 8, 8], np.int32), np.array([0.8, 1.2, 0.8, 1.2, 0.8]))
    assert np.asarray(moved).tolist() == [1, 4, 2, 8, 4]
    ints = _perturb(("n", "int", 1, 10, ()), np.array([5, 9, 1], np.int32), np.array([1.2, 1.2, 0.8]))
    assert np.asarray(ints).tolist() == [6, 10, 1]


LR_SPACE = sweep.Space(lr=sweep.log_uniform(1e-4, 1.0))
PLAIN = make_build()


def run_pbt(**kwargs):
    args = dict(population=8, epochs=6, batch_size=BATCH, perturbation_interval=2, progress=False)
    return sweep.pbt(PLAIN, LR_SPACE, DATA, **{**args, **kwargs})


def test_pbt_starts_as_random_search_and_its_population_ends_better():
    result = run_pbt()
    start = LR_SPACE.sample(0, 8)
    plain = sweep.run(PLAIN, start, DATA, epochs=6, batch_size=BATCH, progress=False)
    # The first interval is the random search's first two epochs (one trainer), from the same configs.
    np.testing.assert_array_equal(result.hparams["lr"][:, 0], np.float32([c["lr"] for c in start]))
    np.testing.assert_array_equal(result.history["val_loss"][:, 0, :2], plain.history["val_loss"][:, 0, :2])
    exploited = [i for i, events in enumerate(result.lineage) if events]
    assert len(exploited) >= 2 and all(at in (2, 4) for i in exploited for at, _ in result.lineage[i])
    final, plain_final = result.final["val_loss"][:, 0], plain.final["val_loss"][:, 0]
    assert np.median(final) < np.median(plain_final) and np.nanmax(final) < np.nanmax(plain_final)
    assert result.history["val_loss"].shape == (8, 1, 6) and result.hparams["lr"].shape == (8, 6)
    assert np.all((result.hparams["lr"] >= np.float32(1e-4)) & (result.hparams["lr"] <= 1.0))
    assert [c["lr"] for c in result.configs] == result.hparams["lr"][:, -1].tolist()
    assert len(result.train_seconds) == 3 and len(result.explore_seconds) == 2


def test_same_key_same_run_and_another_key_another():
    a, b, c = run_pbt(epochs=4), run_pbt(epochs=4), run_pbt(epochs=4, key=1)
    np.testing.assert_array_equal(a.history["val_loss"], b.history["val_loss"])
    np.testing.assert_array_equal(a.hparams["lr"], b.hparams["lr"])
    assert a.lineage == b.lineage and not np.array_equal(a.hparams["lr"], c.hparams["lr"])


def test_no_compilation_after_the_first_interval():
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: compiles.append(event) if event.endswith("backend_compile_duration") else None)
    run_pbt(epochs=4, key=3)  # every program of this population and interval compiles here
    before = len(compiles)
    result = run_pbt(epochs=9, key=4)  # 4 more exploit/explore steps, a shorter last interval, other draws
    assert len(result.explore_seconds) == 4 and any(result.lineage)
    assert len(compiles) == before, f"compiled again: {compiles[before:]}"


def test_lineage_gives_each_row_the_schedule_its_weights_were_trained_with():
    hparams = {"lr": np.array([[1, 1, 2, 2], [3, 3, 4, 4], [5, 5, 5, 6]], np.float32)}
    lineage = [[(2, 1)], [], [(3, 0)]]  # row 0 copied row 1 after 2 epochs; row 2 copied row 0 after 3
    result = PBTResult(sweep.Configs([{"lr": 2.0}, {"lr": 4.0}, {"lr": 6.0}], LR_SPACE.fields),
                                  {"val_loss": np.ones((3, 1, 4))}, np.full((3, 1), -1), np.full(3, 4), 1.0, 0.0,
                                  lineage, hparams, np.ones(2), np.ones(1))
    assert result.ancestors(2).tolist() == [1, 1, 0, 2]
    assert result.schedule(2)["lr"].tolist() == [3, 3, 2, 6]
    assert result.schedule(1)["lr"].tolist() == [3, 3, 4, 4]


def test_plot_writes_the_population_and_the_discovered_schedule(tmp_path):
    result = run_pbt(epochs=4)
    figure = result.plot(tmp_path / "pbt.png", metric="val_accuracy")
    assert (tmp_path / "pbt.png").stat().st_size > 5_000 and len(figure.axes) == 2
    best = result.best(1, "val_accuracy")[0]["index"]
    np.testing.assert_array_equal(figure.axes[1].lines[-1].get_ydata(), result.schedule(best)["lr"])
    weights = result.history["val_accuracy"][result.ancestors(best), 0, np.arange(4)]
    np.testing.assert_array_equal(figure.axes[0].lines[-1].get_ydata(), weights)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"population": 1}, "population=1 is not allowed"),
    ({"epochs": 0}, "epochs=0 is not allowed"),
    ({"perturbation_interval": 0}, "perturbation_interval=0 is not allowed"),
    ({"quantile_fraction": 0.6}, "quantile_fraction=0.6 is not allowed: it must be a number in"),
    ({"resample_probability": 1.5}, "resample_probability=1.5 is not allowed"),
    ({"perturbation_factors": (1.2, 0.0)}, r"perturbation_factors=\(1.2, 0.0\) is not allowed"),
    ({"mode": "up"}, "mode='up' is not allowed"),
    ({"metric": "val_acc"}, "metric='val_acc' is not recorded"),
    ({"chunk_size": 4}, "population=8 does not fit one chunk"),
    ({"seeds": 2}, "seeds and checkpoint_dir are not supported"),
])
def test_bad_arguments_raise_before_training(kwargs, match, monkeypatch):
    monkeypatch.setattr(train.trainer, "run_epoch", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match=match):
        run_pbt(**kwargs)


def test_spaces_pbt_cannot_search_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="field 'optimizer' is static and varies"):
        sweep.pbt(PLAIN, sweep.Space(lr=LR_SPACE.fields["lr"], optimizer=sweep.choice(["sgd", "adam"])), DATA,
                  population=4, epochs=2, batch_size=BATCH)
    with pytest.raises(ValueError, match="no field to explore"):
        sweep.pbt(PLAIN, sweep.Space(optimizer=sweep.fixed("sgd"), lr=sweep.fixed(0.1)), DATA, population=4,
                  epochs=2, batch_size=BATCH)
    with pytest.raises(TypeError, match="space must be a sweep.Space"):
        sweep.pbt(PLAIN, LR_SPACE.sample(0, 4), DATA, population=4, epochs=2, batch_size=BATCH)


def test_a_build_that_refuses_a_bound_is_refused_before_training():
    def build(hp):  # sgd refuses momentum = 1, the space's upper end, which explore's clipping can reach
        return sweep.Trial(nn.Sequential([nn.Dense(2)]), optim.sgd(hp["lr"], momentum=hp["momentum"]))

    space = sweep.Space(lr=sweep.log_uniform(0.01, 0.1), momentum=sweep.uniform(0.5, 1.0))
    with pytest.raises(ValueError, match="momentum=1.0") as caught:
        sweep.pbt(build, space, DATA, population=4, epochs=2, batch_size=BATCH)
    assert "explore can move every field to the ends of its range" in "".join(caught.value.__notes__)
