"""SweepResult: ranking, best(), tables and their CSV/JSON export, and plots, on hand-made results."""

import csv
import io
import json

import numpy as np
import pytest

from .common import VAL_LOSS, make_result


def test_best_ranks_finite_configs_by_the_metric():
    result = make_result()
    assert [r["index"] for r in result.best(3)] == [3, 2, 4]
    assert [r["index"] for r in result.best(10, "val_accuracy")] == [3, 2, 4, 1, 0]
    top = result.best(1)[0]
    assert top == {"rank": 1, "index": 3, "lr": 1e-1, "dropout": 0.4, "opt": "adam", "val_loss": pytest.approx(0.2),
                   "val_accuracy": pytest.approx(0.8), "loss": pytest.approx(0.18), "epochs": 3,
                   "diverged_at": None}
    assert result.diverged.tolist() == [False] * 5 + [True]
    assert result.ranking().tolist() == [3, 2, 4, 1, 0, 5]


def test_best_validates_its_arguments():
    with pytest.raises(ValueError, match=r"unknown metric 'val_acc'; this sweep recorded \['loss', 'val_acc"):
        make_result().best(1, "val_acc")
    with pytest.raises(ValueError, match="k=0"):
        make_result().best(0)


def test_seeds_report_mean_and_spread():
    result = make_result(seeds=3)
    mean, std = result.summary("val_loss")
    np.testing.assert_allclose(mean[:5], np.array(VAL_LOSS[:5]) + 0.01, rtol=1e-6)
    np.testing.assert_allclose(std[:5], np.std([0, 0.01, 0.02]), rtol=1e-4)
    assert "val_loss_std" in result.best(1)[0] and "val_loss_std" in result.table().splitlines()[0]


def test_longer_trained_configs_rank_first():
    # As after successive halving: config 0 got further, so it leads despite its loss.
    result = make_result(diverged=(), epochs=[3, 1, 1, 1, 1, 1])
    assert result.best(2)[0]["index"] == 0
    assert result.final["val_loss"][1, 0] == pytest.approx(1.0)  # value after its own (first) epoch


def test_table_and_exports(tmp_path):
    result = make_result()
    text = result.table().splitlines()
    assert text[0].split()[:5] == ["rank", "index", "lr", "dropout", "opt"]
    assert [line.split()[1] for line in text[1:]] == ["3", "2", "4", "1", "0", "5"]
    assert text[-1].split()[-1] == "diverged@7" and "nan" in text[-1]
    rows = list(csv.DictReader(io.StringIO(result.table(format="csv"))))
    assert [r["index"] for r in rows] == ["3", "2", "4", "1", "0", "5"]
    assert rows[0]["opt"] == "adam" and rows[-1]["diverged_at"] == "7"
    data = json.loads(result.table("val_accuracy", "json"))
    assert data[0]["index"] == 3 and data[-1]["val_loss"] is None and data[-1]["diverged_at"] == 7
    result.save(tmp_path / "t.csv")
    result.save(tmp_path / "t.json")
    result.save(tmp_path / "t.txt")
    assert (tmp_path / "t.csv").read_text() == result.table(format="csv")
    assert json.loads((tmp_path / "t.json").read_text()) == json.loads(result.table(format="json"))
    assert (tmp_path / "t.txt").read_text() == result.table()
    with pytest.raises(ValueError, match="format='xml'"):
        result.table(format="xml")


def test_plot(tmp_path):
    fig = make_result().plot(tmp_path / "sweep.png", top_k=2)
    assert (tmp_path / "sweep.png").stat().st_size > 0
    lr_axis, dropout_axis, curves = fig.axes[:3]
    assert lr_axis.get_xscale() == "log" and dropout_axis.get_xscale() == "linear"
    assert [line.get_label() for line in curves.get_lines()] == ["#3", "#2"]
