"""The random-search experiment runs end to end, and its tables, ranges and comparison agree with facts
re-derived from the stored histories and configs."""

import csv
import json
import math

import jax
import jax.numpy as jnp
import numpy as np

from experiments import hyperparameter_search as hs

LR = (1e-6, 1e-2)
WD = (1e-8, 1e-4)


def inside(values, lo, hi):
    # Samples are float32, and float32(1e-6) < 1e-6: allow float32 rounding at both ends.
    values = np.asarray(values, np.float64)
    return bool(np.all((values >= lo * (1 - 1e-6)) & (values <= hi * (1 + 1e-6))))


def test_quick_run(tmp_path):
    hs.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "hyperparameter_search.json").read_text())
    for name in ("curves", "scatter", "random_vs_grid"):
        assert (tmp_path / f"hyperparameter_search_{name}.png").stat().st_size > 10_000, name
    assert (summary["train_examples"], summary["val_examples"]) == (400, 100)
    trials = summary["config"]["trials"]
    with open(tmp_path / "hyperparameter_search_round1.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == trials == 8
    assert sorted(int(row["index"]) for row in table) == list(range(trials))
    lr = np.array([float(row["lr"]) for row in table])
    wd = np.array([float(row["weight_decay"]) for row in table])
    assert inside(lr, *LR) and inside(wd, *WD)
    assert len(set(lr)) == len(set(wd)) == trials

    # The ranking is by the last epoch's validation accuracy, as recorded in the per-epoch histories.
    history = np.array(summary["round1"]["history"]["val_accuracy"])
    assert history.shape == (trials, summary["config"]["epochs"])
    final = history[:, -1]
    ranked = final[[int(row["index"]) for row in table]]
    assert np.all(np.diff(ranked) <= 0)
    np.testing.assert_allclose([float(row["val_accuracy"]) for row in table], ranked, rtol=1e-6)
    assert [row["index"] for row in summary["round1"]["top"]] == [int(row["index"]) for row in table]

    # Round 2's ranges: inside round 1's, spanned by round 1's best 20% (ties at the cut may go either way).
    configs = {int(row["index"]): (float(row["lr"]), float(row["weight_decay"])) for row in table}
    kth = np.sort(final)[::-1][math.ceil(0.2 * trials) - 1]
    for axis, name, bounds in ((0, "lr", LR), (1, "weight_decay", WD)):
        lo, hi = summary["narrowed_ranges"][name]
        assert inside([lo, hi], *bounds) and lo <= hi
        surely_kept = [configs[i][axis] for i in range(trials) if final[i] > kth]
        may_keep = {configs[i][axis] for i in range(trials) if final[i] >= kth}
        assert all(lo <= v <= hi for v in surely_kept)
        assert {lo, hi} <= {np.float32(v).item() for v in may_keep}
        best = configs[int(table[0]["index"])][axis]
        assert lo <= best <= hi
        assert inside([c[name] for c in summary["round2"]["configs"]], lo, hi)

    # Same budget, one parameter that matters: the grid tries √budget learning rates, random search budget many.
    grid, rand = summary["random_vs_grid"]["grid"], summary["random_vs_grid"]["random"]
    assert len(grid["lr"]) == len(rand["lr"]) == 4
    # A 2×2 grid on the centres of the cells of each log range: 10^−5 and 10^−3, 10^−7 and 10^−5.
    np.testing.assert_allclose(sorted(set(grid["lr"])), [1e-5, 1e-3], rtol=1e-6)
    np.testing.assert_allclose(sorted(set(grid["weight_decay"])), [1e-7, 1e-5], rtol=1e-6)
    assert grid["distinct_lr"] == len(set(grid["lr"])) == 2
    assert rand["distinct_lr"] == len(set(rand["lr"])) == 4 > grid["distinct_lr"]
    assert inside(rand["lr"], *LR) and inside(rand["weight_decay"], *WD)
    for layout in (grid, rand):
        assert layout["best"]["val_accuracy"] == max(layout["val_accuracy"])
    acc = np.array(grid["val_accuracy"])
    for name in ("lr", "weight_decay"):
        values = np.array(grid[name])
        means = [acc[values == v].mean() for v in sorted(set(grid[name]))]
        np.testing.assert_allclose(summary["random_vs_grid"][f"grid_mean_by_{name}"], means, rtol=1e-6)

    timing = summary["timing"]
    seconds = timing["sequential"]["seconds_each"]
    assert len(seconds) == timing["sequential"]["trials_timed"] == 2
    assert math.isclose(timing["sequential"]["extrapolated_seconds"], seconds[0] + (trials - 1) * seconds[1])


def test_trial_is_the_textbooks():
    trial = hs.make_build(100, 6)({"lr": 0.01, "weight_decay": 1e-6})
    assert trial.l2 == 1e-6
    params, _ = trial.model.init(jax.random.key(0), (784,))
    # Sequential's params are keyed by layer position as strings ("10" sorts before "2").
    weights = [leaf for _, leaf in sorted((int(path[0].key), leaf) for path, leaf in
                                          jax.tree_util.tree_leaves_with_path(params) if path[-1].key == "w")]
    assert [w.shape for w in weights] == [(784, 100)] + [(100, 100)] * 5 + [(100, 10)]
    # He initialisation: std √(2 / fan_in).
    np.testing.assert_allclose(np.std(weights[0]), math.sqrt(2 / 784), rtol=0.03)
    np.testing.assert_allclose(np.std(weights[1]), math.sqrt(2 / 100), rtol=0.05)
    # Plain SGD with the given learning rate: p ← p − lr·g.
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = trial.optimizer.update(grads, trial.optimizer.init(params), params)
    np.testing.assert_allclose(updates["0"]["w"], -0.01 * np.ones((784, 100)), rtol=1e-6)
