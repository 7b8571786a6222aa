"""Shared tiny data and builds: a sweep suite compiles little when its tests reuse one build and one shape."""

import numpy as np

from jaxnn import nn, optim, sweep

N, EVAL, FEATURES, BATCH = 128, 32, 4, 32


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32)


DATA = (_blobs(N, 0), _blobs(EVAL, 1))


def make_build(calls: list | None = None, dropout: bool = False, batchnorm: bool = False):
    """A build for a small MLP; appends each ``hp`` it is called with to ``calls``."""

    def build(hp):
        if calls is not None:
            calls.append(hp)
        layers = [nn.Dense(8)] + ([nn.BatchNorm()] if batchnorm else []) + [nn.relu]
        layers += [nn.Dropout(hp["dropout"])] if dropout else []
        opt = optim.adam(hp["lr"]) if hp.get("optimizer", "sgd") == "adam" else optim.sgd(hp["lr"])
        return sweep.Trial(nn.Sequential([*layers, nn.Dense(2)]), opt, l2=hp.get("wd", 0.0))

    return build


BUILD = make_build()
CONFIGS = sweep.grid(lr=[0.05, 0.2], wd=[0.0, 1e-3])
"""Four configs of one group: with BUILD, most tests share its compiled program."""

SPACE = sweep.Space(lr=sweep.log_uniform(1e-4, 1.0), dropout=sweep.uniform(0.0, 0.5),
                    opt=sweep.choice(["sgd", "adam"]))
ROWS = [{"lr": lr, "dropout": d, "opt": o} for lr, d, o in
        [(1e-4, 0.1, "sgd"), (1e-3, 0.2, "adam"), (1e-2, 0.3, "sgd"), (1e-1, 0.4, "adam"), (3e-3, 0.0, "sgd"),
         (0.9, 0.5, "adam")]]
VAL_LOSS = [0.9, 0.5, 0.3, 0.2, 0.4, 0.05]  # config 5 is best, but it diverged


def make_result(val_loss=VAL_LOSS, diverged=(5,), seeds=1, epochs=None):
    """A hand-made SweepResult over ROWS: val_loss falls from 2x to 1x the given final values over 3 epochs,
    seed s adds 0.01 * s, and diverged configs are NaN from epoch 3."""
    n = len(val_loss)
    loss = np.asarray(val_loss, np.float32)[:, None, None] * np.linspace(2, 1, 3, dtype=np.float32)
    loss = np.repeat(loss, seeds, axis=1) + np.arange(seeds, dtype=np.float32)[None, :, None] * 0.01
    history = {"val_loss": loss, "val_accuracy": 1 - loss, "loss": loss * 0.9}
    steps = np.full((n, seeds), -1)
    for i in diverged:
        steps[i] = 7
        for h in history.values():
            h[i, :, 2:] = np.nan
    epochs = np.full(n, 3) if epochs is None else np.asarray(epochs)
    return sweep.SweepResult(sweep.Configs(ROWS[:n], SPACE.fields), history, steps, epochs, 1.5, 0.5)
