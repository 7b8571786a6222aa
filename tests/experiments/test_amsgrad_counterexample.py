"""The AMSGrad counterexample: Adam drifts to +1, AMSGrad reaches −1, and the steps match a NumPy re-derivation."""

import json

import numpy as np

from experiments import amsgrad_counterexample as ams


def _numpy_path(amsgrad: bool, steps: int) -> np.ndarray:
    # Reddi et al.'s algorithm written out: bias-corrected moments, max over the raw v for AMSGrad, lr α/√t,
    # projection onto [−1, 1].
    x, m, v, vmax, xs = 0.0, 0.0, 0.0, 0.0, [0.0]
    for t in range(1, steps + 1):
        g = 1010.0 if t % 101 == 1 else -10.0
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g
        vmax = max(vmax, v) if amsgrad else v
        step = (m / (1 - 0.9**t)) / (np.sqrt(vmax / (1 - 0.99**t)) + 1e-8)
        x = float(np.clip(x - 0.5 / np.sqrt(t) * step, -1.0, 1.0))
        xs.append(x)
    return np.array(xs)


def test_first_steps_match_numpy():
    steps = 400  # four periods: the big gradient and the drift after it
    for name, amsgrad in (("Adam", False), ("AMSGrad", True)):
        got = np.asarray(ams.run(name, steps))
        np.testing.assert_allclose(got, _numpy_path(amsgrad, steps), atol=2e-4, err_msg=name)


def test_average_regret_against_direct_sum():
    xs = np.array([0.5, -1.0, 0.25])
    f = lambda t, x: (1010.0 if t % 101 == 1 else -10.0) * x  # noqa: E731
    expected = [sum(f(s, xs[s - 1]) - f(s, -1.0) for s in range(1, t + 1)) / t for t in (1, 2, 3)]
    np.testing.assert_allclose(ams.average_regret(xs), expected)


def test_adam_drifts_to_plus_one_and_amsgrad_converges(tmp_path):
    ams.main(["--no-cache", "--out", str(tmp_path)])  # the full 10⁶ steps: a few seconds
    assert (tmp_path / "amsgrad_counterexample.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "amsgrad_counterexample.json").read_text())["optimizers"]
    assert list(rows) == ["Adam", "AMSGrad"]
    assert rows["Adam"]["final_x"] > 0.99 and rows["Adam"]["mean_x_last_10_percent"] > 0.95
    assert rows["AMSGrad"]["final_x"] < -0.99 and rows["AMSGrad"]["mean_x_last_10_percent"] < -0.95
    assert rows["Adam"]["final_average_regret"] > 0.15  # linear regret: R_T/T stays near a constant
    assert rows["AMSGrad"]["final_average_regret"] < 0.05
