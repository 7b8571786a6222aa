"""The optimizer-paths experiment runs end to end and its numbers agree with closed forms."""

import json

import numpy as np

from experiments import optimizer_paths


def _sgd_steps_closed_form(lr: float = 0.95) -> int:
    # Plain SGD on x²/20 + y² is linear: x_t = (1 − lr/10)^t x_0 and y_t = (1 − 2 lr)^t y_0.
    t = np.arange(optimizer_paths.MAX_STEPS + 1)
    x = (1 - lr / 10) ** t * optimizer_paths.START[0]
    y = (1 - 2 * lr) ** t * optimizer_paths.START[1]
    return int(np.flatnonzero(x**2 / 20 + y**2 < optimizer_paths.THRESHOLD)[0])


def test_optimizer_paths_writes_figure_and_table(tmp_path):
    optimizer_paths.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "optimizer_paths.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "optimizer_paths.json").read_text())
    rows = summary["optimizers"]
    assert list(rows) == ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "AdaDelta", "Adam", "AMSGrad"]
    assert rows["SGD"]["steps_to_threshold"] == _sgd_steps_closed_form()
    for name, row in rows.items():
        assert row["steps_to_threshold"] is not None, name
        assert row["final_f"] < row["f_after_30_steps"] or row["final_f"] < 0.01, name


def test_sgd_zigzags_and_momentum_overshoots():
    paths = optimizer_paths.run_all(np.asarray(optimizer_paths.START, np.float32))
    sgd_y = np.asarray(paths["SGD"])[:10, 1]
    assert np.all(np.sign(sgd_y[1:]) == -np.sign(sgd_y[:-1])), "SGD with lr 0.95 must cross the valley every step"
    momentum_x = np.asarray(paths["Momentum"])[: optimizer_paths.SHOWN_STEPS + 1, 0]
    assert momentum_x.max() > 0, "heavy-ball momentum overshoots the minimum along x"
