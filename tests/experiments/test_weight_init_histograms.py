"""The weight-init histogram experiment runs end to end and shows the textbook's three facts."""

import json

import numpy as np

from experiments import weight_init_histograms


def mass(stats, lo, hi):
    """Fraction of the histogram's counts in bins lying inside [lo, hi]."""
    edges, counts = np.asarray(stats["hist_edges"]), np.asarray(stats["hist_counts"])
    inside = (edges[:-1] >= lo - 1e-6) & (edges[1:] <= hi + 1e-6)
    return counts[inside].sum() / counts.sum()


def test_weight_init_histograms(tmp_path):
    weight_init_histograms.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "weight_init_histograms.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "weight_init_histograms.json").read_text())
    results = summary["results"]
    depth = summary["config"]["depth"]
    assert list(results) == ["sigmoid", "tanh", "relu"]
    assert all(list(inits) == ["std=1", "std=0.01", "xavier", "he"] for inits in results.values())
    assert all(len(layers) == depth for inits in results.values() for layers in inits.values())
    edge = 1 / summary["config"]["bins"]

    # std 1 with sigmoid: most activations sit in the outermost bins, at 0 and 1 (saturated, vanishing σ').
    for stats, xavier in zip(results["sigmoid"]["std=1"], results["sigmoid"]["xavier"]):
        saturated = mass(stats, 0, edge) + mass(stats, 1 - edge, 1)
        assert saturated > 0.5
        assert saturated > 10 * (mass(xavier, 0, edge) + mass(xavier, 1 - edge, 1))

    # std 0.01 with sigmoid: every layer collapses onto 0.5.
    for stats, xavier in zip(results["sigmoid"]["std=0.01"], results["sigmoid"]["xavier"]):
        assert abs(stats["mean"] - 0.5) < 0.01
        assert stats["std"] < 0.2 * xavier["std"]
        assert mass(stats, 0.4, 0.6) > 0.99

    # He keeps ReLU layers spread: the std stays put with depth, where Xavier's shrinks and std 0.01 vanishes.
    std = {init: np.array([s["std"] for s in layers]) for init, layers in results["relu"].items()}
    assert 2 / 3 < std["he"][-1] / std["he"][0] < 3 / 2
    assert std["xavier"][-1] / std["xavier"][0] < 0.5
    assert std["std=0.01"][-1] < 1e-3 * std["he"][-1]
    assert all(mass(s, 0, 1) < 0.9 for s in results["relu"]["he"])  # spread over (0, 4), not piled at 0
    assert all(0.4 < s["frac_zero"] < 0.6 for s in results["relu"]["he"])
