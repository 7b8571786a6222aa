"""The range-test experiment: its suggestions, grid bests and factors re-derived from the JSON it writes."""

import json

import numpy as np
import pytest

from experiments import lr_find


def test_quick_run_reports_suggestions_against_the_grid(tmp_path):
    lr_find.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "lr_find.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "lr_find.json").read_text())
    test, grid = summary["range_test"], summary["grid"]
    lrs, grid_lrs = np.array(test["lrs"]), np.array(grid["lrs"])
    t = np.arange(test["steps"])
    np.testing.assert_allclose(lrs, test["low"] * (test["high"] / test["low"]) ** (t / (test["steps"] - 1)), rtol=1e-6)
    np.testing.assert_allclose(grid_lrs, np.geomspace(grid_lrs[0], grid_lrs[-1], len(grid_lrs)), rtol=1e-12)
    assert list(summary["optimizers"]) == ["SGD", "Momentum", "Adam"]
    for name, r in summary["optimizers"].items():
        assert len(r["suggestions"]) == len(test["keys"]) == 2, name
        for smoothed, end, suggested in zip(r["smoothed"], r["stopped_at"], r["suggestions"]):
            s = np.array([np.nan if v is None else v for v in smoothed])
            assert np.isfinite(s[:end]).all() and np.isnan(s[end:]).all(), name
            # the steepest descent of the smoothed loss against log lr, past the first tenth, over the counted steps
            window = np.arange(test["steps"] // 10, end - 1)
            slopes = (s[window + 1] - s[window]) / np.log(lrs[window + 1] / lrs[window])
            assert suggested == pytest.approx(lrs[window[np.argmin(slopes)]], rel=1e-12), name
        assert r["suggested_lr"] == pytest.approx(np.median(r["suggestions"]), rel=1e-12), name
        losses = np.array([np.inf if v is None else v for v in r["grid_val_loss"]])
        assert r["grid_best_lr"] == pytest.approx(grid_lrs[np.argmin(losses)], rel=1e-12), name
        ratio = r["suggested_lr"] / r["grid_best_lr"]
        assert r["factor"] == pytest.approx(max(ratio, 1 / ratio)) and r["factor"] >= 1, name
    # one program serves every key: the second range test compiles nothing
    assert test["compile_seconds"][1] < 0.05 * test["compile_seconds"][0]


def test_bad_grid_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="--grid=0 is not allowed"):
        lr_find.main(["--no-cache", "--quick", "--grid", "0", "--out", str(tmp_path)])
