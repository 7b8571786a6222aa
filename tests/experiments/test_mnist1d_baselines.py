"""The MNIST-1D baselines: the paper's CNN shape, and a quick run of the whole table."""

import json

import jax
import numpy as np

from experiments import mnist1d_baselines as baselines


def test_cnn_is_the_papers_convbase():
    model = baselines.build_cnn(classes=10)
    params, _ = model.init(jax.random.key(0), (40,))
    conv = lambda k, c_in, c_out: k * c_in * c_out + c_out  # noqa: E731
    # lengths 40 -> 19 -> 10 -> 5 with padding 1 and stride 2, so the Dense layer sees 5 · 25 features
    expected = conv(5, 1, 25) + conv(3, 25, 25) + conv(3, 25, 25) + 5 * 25 * 10 + 10
    assert sum(leaf.size for leaf in jax.tree.leaves(params)) == expected == 5210
    assert model.output_shape((40,)) == (10,)


def test_quick_table(tmp_path):
    baselines.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "mnist1d_baselines.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "mnist1d_baselines.json").read_text())
    table = summary["table"]
    assert [row["paper"] for row in table.values()] == [0.32, 0.68, 0.94, None]
    for name, row in table.items():
        assert 0.15 < row["final_test_accuracy"] <= 1.0, name  # above chance (0.1) after two epochs
        assert row["min_over_seeds"] <= row["final_test_accuracy"] <= row["max_over_seeds"], name
    tuned = summary["tuned"]
    assert 1e-4 <= tuned["lr"] <= 3e-2 and 1e-6 <= tuned["weight_decay"] <= 1e-2
    assert tuned["val_accuracy"] == max(row["val_accuracy"] for row in tuned["table"])
    history = np.asarray(summary["test_accuracy_history"][baselines.TUNED])
    assert history.shape == (baselines.SEEDS, 2)
