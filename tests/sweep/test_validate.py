"""Every config is checked with its concrete values before anything is traced: the constructors' own range
checks, the Trial's (``l2 >= 0``) and metric-column names, naming the config, the field and the value."""

import numpy as np
import pytest

from jaxnn import nn, optim, sweep, train

from .common import BATCH, DATA


def _build(calls):
    def build(hp):
        calls.append(hp)
        model = nn.Sequential([nn.Dense(hp.get("width", 4)), nn.relu, nn.Dropout(hp["dropout"]), nn.Dense(2)])
        return sweep.Trial(model, optim.sgd(hp["lr"], momentum=hp["momentum"]), l2=hp["wd"])

    return build


GOOD = {"lr": 0.1, "momentum": 0.9, "dropout": 0.1, "wd": 0.0}


def _run(build, configs, **kwargs):
    return sweep.run(build, configs, DATA, epochs=1, batch_size=BATCH, progress=False, **kwargs)


@pytest.mark.parametrize(("field", "value", "message"), [
    # Checked as the float32 the sweep traces.
    ("lr", -0.1, r"lr=np.float32\(-0.1\) is not allowed: lr must be"),  # gradient ascent, ranked as a result before
    ("momentum", 1.5, r"momentum=np.float32\(1.5\) is not allowed"),
    ("dropout", 1.5, r"rate=np.float32\(1.5\) is not allowed"),
    ("wd", -1e-3, r"l2=np.float32\(-0.001\) is not allowed: l2 must be a number >= 0"),
])
def test_a_config_a_constructor_refuses_is_reported_before_training(field, value, message, monkeypatch):
    epochs = []
    monkeypatch.setattr(train, "scan_epoch", lambda step: epochs.append(step))
    configs = sweep.Configs.from_dicts([GOOD, GOOD | {"lr": 0.2}, GOOD | {field: value}])
    calls = []
    with pytest.raises(ValueError, match=rf"sweep: configs\[2\] has {field}={value}, which build\(hp\) refuses: "
                                         rf"{message}"):
        _run(_build(calls), configs)
    assert epochs == [] and calls[0] == {k: np.float32(v) for k, v in GOOD.items()}  # concrete float32 values
    assert all(isinstance(v, np.float32) for v in calls[0].values())


def test_a_bad_static_value_names_the_config():
    configs = sweep.grid(width=sweep.choice([4, 0], static=True), lr=[0.1], momentum=[0.9], dropout=[0.1], wd=[0.0])
    with pytest.raises(ValueError, match=r"sweep: configs\[1\] = \{'width': 0, .*\} is refused by build\(hp\): "):
        _run(_build([]), configs)


def test_values_are_checked_as_the_float32_the_sweep_traces():
    # 0.99999999 is below 1 in float64 but is 1.0 in float32, which momentum's [0, 1) refuses.
    configs = sweep.Configs.from_dicts([GOOD, GOOD | {"momentum": 0.99999999}])
    with pytest.raises(ValueError, match=r"configs\[1\] has momentum=0.99999999, .*"
                                         r"momentum=np.float32\(1.0\) is not allowed"):
        _run(_build([]), configs)


@pytest.mark.parametrize("name", ["val_loss", "train_accuracy", "accuracy", "val_accuracy_std", "test_loss"])
def test_fields_named_like_metric_columns_are_refused(name):
    def build(hp):
        return sweep.Trial(nn.Sequential([nn.Dense(2)]), optim.sgd(hp["lr"]))

    with pytest.raises(ValueError, match=rf"sweep: field '{name}' has the name of a metric column"):
        _run(build, sweep.grid(lr=[0.1], **{name: [1.0, 2.0]}))


def test_int_seeds_that_jax_would_fold_are_refused_before_training():
    def build(hp):
        return sweep.Trial(nn.Sequential([nn.Dense(2)]), optim.sgd(hp["lr"]))

    with pytest.raises(ValueError, match=r"key=4294967296 is not allowed: .* would equal key=0"):
        _run(build, sweep.grid(lr=[0.1]), key=2**32)
