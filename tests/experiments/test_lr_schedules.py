"""The lr-schedules experiment: the learning rates read back from the optimizer states follow the formulas."""

import json

import numpy as np

from experiments import lr_schedules

FORMULAS = {  # the textbook schedules, written out in NumPy
    "constant": lambda p, t: np.full_like(t, p["lr0"]),
    "step_decay": lambda p, t: p["lr0"] * p["factor"] ** np.floor(t / p["every"]),
    "exponential_decay": lambda p, t: p["lr0"] * np.exp(-p["k"] * t),
    "inverse_time_decay": lambda p, t: p["lr0"] / (1 + p["k"] * t),
}


def test_lr_curves_follow_the_schedule_formulas(tmp_path):
    lr_schedules.main(["--no-cache", "--quick", "--epochs", "3", "--out", str(tmp_path)])
    assert (tmp_path / "lr_schedules.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "lr_schedules.json").read_text())
    runs = summary["runs"]
    assert {run["kind"] for run in runs.values()} == set(FORMULAS)
    t = np.arange(3, dtype=np.float64) * summary["steps_per_epoch"]
    for label, run in runs.items():
        np.testing.assert_allclose(run["lr"], FORMULAS[run["kind"]](run["params"], t), rtol=1e-5, err_msg=label)
        assert len(run["loss"]) == 3 and np.all(np.isfinite(run["loss"])), label
    # T = 120 updates: "×0.5 every T/4" has halved once after 40 steps and twice after 80
    np.testing.assert_allclose(runs["step ×0.5 every T/4"]["lr"], [0.5, 0.25, 0.125], rtol=1e-6)
    # every run starts from the same weights with the same lr, so the first epoch's loss is nearly the same
    first = [run["loss"][0] for run in runs.values()]
    assert max(first) - min(first) < 0.2
