"""Training: a ``TrainState`` pytree, pure train/eval steps, and a compiled ``fit`` loop with checkpoints.

Example::

    from jaxnn import data, nn, optim, train

    ds = data.load("mnist1d")                                       # 40 values per example, 10 classes
    (x_train, y_train), (x_test, y_test) = ds.train, ds.test
    model = nn.Sequential([nn.Dense(100), nn.relu, nn.Dense(10)])
    ts = train.create(model, optim.adam(1e-3), jax.random.key(0), input_shape=(40,))
    step = train.make_train_step(model, optim.adam(1e-3))
    ts, history = train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100,
                            eval_data=(x_test, y_test), eval_step=train.make_eval_step(model))
"""

from jaxnn.train.callbacks import Callback, Progress, as_callbacks
from jaxnn.train.loggers import CsvLogger, JsonLinesLogger, TensorBoardLogger, record_rows
from jaxnn.train.loop import (
    EvalStep,
    TrainStep,
    check_data,
    check_remainder,
    epoch_batches,
    evaluate,
    evaluate_batches,
    fit,
    scan_epoch,
    split_batches,
    train_epoch,
)
from jaxnn.train.state import TrainState, create
from jaxnn.train.steps import Batch, make_eval_step, make_train_step, mean_metrics

__all__ = [
    "Batch",
    "Callback",
    "CsvLogger",
    "EvalStep",
    "JsonLinesLogger",
    "Progress",
    "TrainState",
    "TensorBoardLogger",
    "TrainStep",
    "as_callbacks",
    "check_data",
    "check_remainder",
    "create",
    "epoch_batches",
    "evaluate",
    "evaluate_batches",
    "fit",
    "make_eval_step",
    "make_train_step",
    "mean_metrics",
    "record_rows",
    "scan_epoch",
    "split_batches",
    "train_epoch",
]
