"""sweep.lr_find: the closed-form ramp at every step, rows equal to single runs, one program for all rows, the
fastai stop and suggestion re-derived in NumPy, a suggestion inside the closed-form range of a quadratic, and
arguments refused before anything trains."""

import jax
import numpy as np
import pytest

from jaxnn import losses, nn, optim, sweep, train

# A least-squares toy whose curvature is known exactly: centred, whitened inputs (XᵀX/N = I, mean 0), so the
# Hessian of mse(Xw + b, y) in (w, b) is 2·I and gradient descent contracts the error by |1 − 2·lr| per step:
# it converges for 0 < lr < 1 and fastest at lr = 0.5.
N, D = 64, 3
_rng = np.random.default_rng(0)
_x = _rng.normal(size=(N, D))
X = (np.linalg.svd(_x - _x.mean(0), full_matrices=False)[0] * np.sqrt(N)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * _rng.normal(size=N)).astype(np.float32)[:, None]
DATA = ((X, Y), (X[:8], Y[:8]))
DIVERGES_ABOVE = 1.0  # 2 / the Hessian's largest eigenvalue
GOOD = (0.05, DIVERGES_ABOVE)  # from a 10% contraction of the error per step up to divergence
LOW, HIGH, STEPS = 1e-4, 10.0, 100


def regression(hp):
    opt = optim.sgd(hp["lr"], momentum=hp["momentum"]) if "momentum" in hp else optim.sgd(hp["lr"])
    return sweep.Trial(nn.Sequential([nn.Dense(1)]), opt, loss=losses.mse, metrics={})


def _find(build=regression, configs=({},), batch_size=N, **kwargs):
    args = {"low": LOW, "high": HIGH, "steps": STEPS, **kwargs}
    return sweep.lr_find(build, list(configs), DATA, batch_size=batch_size, **args)


@pytest.fixture(scope="module")
def full_batch():
    """Gradient descent on the toy (full batch), one row."""
    return _find()


def closed_form(low=LOW, high=HIGH, steps=STEPS):
    return low * (high / low) ** (np.arange(steps) / (steps - 1))


def numpy_gd(params, lrs):
    """Full-batch gradient descent on the toy in float64 with the given lr per step: the loss before each step."""
    w, b = np.asarray(params["0"]["w"], np.float64), np.asarray(params["0"]["b"], np.float64)
    out = []
    for lr in lrs:
        r = X @ w + b - Y
        out.append(np.mean(r**2))
        w, b = w - lr * 2 * X.T @ r / N, b - lr * 2 * r.mean(0)
    return np.array(out)


def fastai(loss, k=4.0, beta=0.98):
    """fastai's smoothed loss and stop_div, written out step by step: (smoothed, first step not counted)."""
    average, best, smoothed = 0.0, np.inf, []
    for t, value in enumerate(loss):
        average = beta * average + (1 - beta) * value
        smoothed.append(average / (1 - beta ** (t + 1)))
        best = min(best, smoothed[-1])
        if not np.isfinite(smoothed[-1]) or smoothed[-1] > k * best:
            return np.array(smoothed), t
    return np.array(smoothed), len(loss)


def test_every_step_runs_with_the_closed_form_lr(full_batch):
    np.testing.assert_allclose(full_batch.lrs, closed_form(), rtol=1e-6)
    init = train.create(nn.Sequential([nn.Dense(1)]), optim.sgd(0.1), sweep.config_key(0, 0), (D,)).params
    reference = numpy_gd(init, closed_form())
    # the losses gradient descent makes with lr_t = low·(high/low)^(t/(steps−1)); past lr = 1 the error grows
    # from float32 (or float64) rounding, so the two explode at different steps
    stable = full_batch.lrs < 0.9 * DIVERGES_ABOVE
    np.testing.assert_allclose(full_batch.losses[0, stable], reference[stable], rtol=2e-4, atol=1e-6)


def test_the_exploding_row_stops_where_fastai_stops(full_batch):
    smoothed, end = fastai(full_batch.losses[0])
    stopped = int(full_batch.stopped_at[0])
    assert stopped == end < STEPS and full_batch.lrs[stopped] > DIVERGES_ABOVE  # the loss explodes above lr = 1
    assert np.isnan(full_batch.smoothed[0, stopped:]).all() and np.isfinite(full_batch.losses[0, stopped:]).all()
    np.testing.assert_allclose(full_batch.smoothed[0, :stopped], smoothed[:stopped], rtol=1e-12)


def test_the_suggestion_is_the_steepest_descent_over_the_counted_range(full_batch):
    s = full_batch.smoothed[0]
    start, stop = STEPS // 10, int(full_batch.stopped_at[0])
    slopes = [(s[t + 1] - s[t]) / np.log(full_batch.lrs[t + 1] / full_batch.lrs[t]) for t in range(start, stop - 1)]
    assert full_batch.suggested[0] == full_batch.lrs[start + int(np.argmin(slopes))]


def test_the_suggestion_lies_in_the_closed_form_range_and_is_stable():
    runs = [_find(configs=[{}, {}], key=key) for key in (0, 1, 2)]
    suggested = np.concatenate([r.suggested for r in runs])
    assert ((GOOD[0] <= suggested) & (suggested < GOOD[1])).all(), suggested
    np.testing.assert_array_equal(_find(configs=[{}, {}], key=1).suggested, runs[1].suggested)  # same key, same lr
    assert suggested.max() / suggested.min() < (HIGH / LOW) ** (3 / (STEPS - 1)), suggested  # within 3 ramp steps


def test_a_diverging_row_stops_counting_at_its_nan():
    result = _find(high=1e8)
    diverged = int(result.diverged_at[0])
    assert diverged >= 0 and int(result.stopped_at[0]) <= diverged
    assert np.isnan(result.losses[0, diverged:]).all() and np.isfinite(result.suggested[0])


def _single_run(build, config, index, key, low, high, steps, batch_size):
    """Config ``index`` trained alone on the single-run path: its own optimizer built with the ramp, its
    config_key, train.make_train_step scanned over the sweep's minibatches."""
    ramp = optim.exponential_ramp(low, high, steps - 1)
    trial = build({**{k: (np.float32(v) if not isinstance(v, str) else v) for k, v in config.items()}, "lr": ramp})
    step = train.make_train_step(trial.model, trial.optimizer, loss=trial.loss, metrics=trial.metrics)
    ts = train.create(trial.model, trial.optimizer, sweep.config_key(key, index), (D,))
    per_epoch = N // batch_size
    batches = np.concatenate([train.epoch_batches(sweep.order_key(key), e, N, batch_size)[0]
                              for e in range(-(-steps // per_epoch))])[:steps]
    x, y = jax.numpy.asarray(X), jax.numpy.asarray(Y)
    _, metrics = jax.lax.scan(lambda ts, idx: step(ts, (x[idx], y[idx])), ts, batches)
    return np.asarray(metrics["loss"])


def mixed(hp):
    opt = optim.adam(hp["lr"]) if hp["optimizer"] == "adam" else optim.sgd(hp["lr"], momentum=hp["momentum"])
    return sweep.Trial(nn.Sequential([nn.Dense(1)]), opt, loss=losses.mse, metrics={})


def test_rows_equal_single_runs_in_every_group():
    configs = [{"optimizer": "sgd", "momentum": 0.0}, {"optimizer": "adam", "momentum": 0.0},
               {"optimizer": "sgd", "momentum": 0.9}]
    result = _find(mixed, configs, batch_size=16, low=1e-3, high=3.0, steps=12, key=3)  # 3 epochs of 4 steps
    for i in (1, 2):  # one row of each group (each single run compiles anew)
        config = configs[i]
        alone = _single_run(mixed, config, i, 3, 1e-3, 3.0, 12, 16)
        end = int(result.stopped_at[i])
        np.testing.assert_allclose(result.losses[i, :end], alone[:end], rtol=2e-5, atol=1e-7, err_msg=str(config))
    assert result.configs[2] == configs[2] and "lr_find.low" not in result.configs.names
    assert [row["momentum"] for row in result.rows()] == [0.0, 0.0, 0.9]


def test_one_program_serves_every_row_and_every_range():
    calls = []

    def build(hp):
        calls.append(hp)
        return regression(hp)

    def traced():
        return sum(isinstance(hp["momentum"], jax.core.Tracer) for hp in calls)

    _find(build, [{"momentum": m} for m in (0.0, 0.5, 0.9, 0.95)], steps=20)
    first = traced()
    # init, the scanned step, and the sweep's shape-only checks of init, step and eval: none of them per row
    assert first == 5
    again = _find(build, [{"momentum": m} for m in (0.1, 0.2, 0.3, 0.4)], low=1e-3, high=1.0, steps=20)
    assert traced() == first and np.isfinite(again.suggested).all()


@pytest.mark.parametrize(("arguments", "message"), [
    ({"low": 0.0}, "low=0.0"), ({"low": -1e-3}, "low=-0.001"), ({"low": 1.0, "high": 1.0}, "high=1.0"),
    ({"high": float("inf")}, "high=inf"), ({"steps": 1}, "steps=1"), ({"steps": 10.0}, "steps=10.0"),
    ({"steps": True}, "steps=True"), ({"k": 1.0}, "k=1.0"), ({"lr_field": 3}, "lr_field=3"),
])
def test_bad_arguments_are_refused_naming_them_before_anything_is_built(arguments, message):
    calls = []

    def build(hp):
        calls.append(hp)
        return regression(hp)

    with pytest.raises(ValueError, match=f"lr_find: {message} is not allowed"):
        _find(build, **arguments)
    assert calls == []


def test_a_build_that_computes_with_the_lr_is_told_to_pass_it_on():
    def build(hp):
        return sweep.Trial(nn.Sequential([nn.Dense(1)]), optim.sgd(hp["lr"] * 0.1), loss=losses.mse, metrics={})

    with pytest.raises(TypeError) as error:
        _find(build, [{"lr": 0.1}])
    assert "hand it to the optimizer as is" in "".join(error.value.__notes__)


def test_the_ignored_lr_is_left_out_of_the_table():
    result = _find(configs=[{"lr": 0.3, "momentum": 0.5}], steps=20)
    assert result.configs[0]["lr"] == 0.3 and "lr" not in result.rows()[0] and "momentum" in result.rows()[0]


def test_table_and_plot(full_batch, tmp_path):
    lines = full_batch.table().splitlines()
    assert len(lines) == 2 and "suggested" in lines[0] and f"{full_batch.suggested[0]:.4g}" in lines[1]
    row = full_batch.rows()[0]
    assert row["lr_at_min"] == full_batch.lrs[np.nanargmin(full_batch.smoothed[0])]
    full_batch.plot(tmp_path / "lr_find.png", labels=["gd"])
    assert (tmp_path / "lr_find.png").stat().st_size > 5_000
