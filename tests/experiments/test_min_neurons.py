"""The min-neurons experiment: one unit cannot separate either toy, enough units separate both."""

import json

import numpy as np

from experiments import min_neurons


def test_toys_are_what_they_claim():
    disk = min_neurons.disk_and_ring()
    r = np.hypot(*disk.x.T)
    assert np.all(r[disk.y == 0] < 0.5) and np.all((r[disk.y == 1] > 0.7) & (r[disk.y == 1] < 1.0))
    xor = min_neurons.xor()
    majority = (np.sign(xor.x[:, 0]) != np.sign(xor.x[:, 1])) == xor.y.astype(bool)
    assert majority.mean() > 0.9  # the noisy clusters spill over the axes only rarely
    assert np.bincount(disk.y).tolist() == np.bincount(xor.y).tolist() == [200, 200]


def test_one_unit_fails_and_five_separate(tmp_path):
    min_neurons.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "min_neurons.png").stat().st_size > 10_000
    best = json.loads((tmp_path / "min_neurons.json").read_text())["best_train_accuracy"]
    for toy in ("disk inside ring", "XOR"):
        # one tanh unit: the boundary is a single line, which leaves a quarter of XOR or much of the ring wrong
        assert best[toy]["1"] <= 0.8, toy
        assert best[toy]["5"] >= 0.98, toy
