"""``python -m experiments``: discovery, listing, running one experiment, and unknown names."""

import json
import subprocess
import sys
from pathlib import Path

import experiments
from experiments import __main__ as runner

ROOT = Path(experiments.__file__).resolve().parent.parent
MINE = ["lr_schedules", "adaptive_lr", "amsgrad_counterexample", "activations", "ensembles", "min_neurons",
        "mnist1d_baselines"]


def test_discovers_every_module_with_main_and_no_helpers():
    found = runner.discover()
    with_main = {p.stem for p in (ROOT / "experiments").glob("*.py") if "\ndef main(" in p.read_text()}
    assert set(found) == with_main - {"__main__"}
    assert set(MINE) | {"optimizer_paths", "train_mnist1d", "weight_init_histograms"} <= set(found)
    assert not any(name.startswith("_") for name in found)
    assert found["amsgrad_counterexample"].startswith("Adam fails to converge")


def test_lists_experiments_with_summaries():
    done = subprocess.run([sys.executable, "-m", "experiments"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ") and line.strip()}
    for name in MINE:
        assert name in lines and len(lines[name].split()) > 3, name


def test_runs_one_experiment(tmp_path):
    assert runner.main(["amsgrad_counterexample", "--no-cache", "--quick", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "amsgrad_counterexample.json").read_text())
    assert summary["optimizers"]["Adam"]["final_x"] > 0.9


def test_unknown_name_exits_2_and_lists_choices(capsys):
    assert runner.main(["no_such_experiment"]) == 2
    assert "lr_schedules" in capsys.readouterr().err
