"""Training: a ``TrainState`` pytree, pure train/eval steps, ``fit`` for one run and ``fit_stack`` for many.

Modules: :mod:`~jaxnn.train.state` (``TrainState``), :mod:`~jaxnn.train.steps` (train/eval steps),
:mod:`~jaxnn.train.rows` (stacking runs), :mod:`~jaxnn.train.epoch` (the compiled epoch and its divergence
guard), :mod:`~jaxnn.train.evaluation` (named evaluation sets), :mod:`~jaxnn.train.trainer` (the loop every
trainer shares), :mod:`~jaxnn.train.early_stopping`, :mod:`~jaxnn.train.checkpointing`,
:mod:`~jaxnn.train.placement` (devices), :mod:`~jaxnn.train.callbacks` and :mod:`~jaxnn.train.loop` (``fit``).

Example::

    from jaxnn import data, nn, optim, train

    ds = data.split(data.load("mnist1d"), 0.2, key=0)               # train / val / test, 40 values, 10 classes
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = ds.train, ds.val, ds.test
    model = nn.Sequential([nn.Dense(100), nn.relu, nn.Dense(10)])
    ts = train.create(model, optim.adam(1e-3), jax.random.key(0), input_shape=(40,))
    step = train.make_train_step(model, optim.adam(1e-3))
    ts, history = train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100,
                            eval_data=(x_val, y_val), eval_step=train.make_eval_step(model))
    seeds = train.create_stacked(model, optim.adam(1e-3), train.seed_keys(0, 8), (40,))
    seeds, curves = train.fit_stack(seeds, step, (x_train, y_train), epochs=3, batch_size=100)
"""

from jaxnn.train.callbacks import Callback, Progress, as_callbacks
from jaxnn.train.checkpointing import Checkpointer
from jaxnn.train.early_stopping import EarlyStopping
from jaxnn.train.epoch import TrainStep, epoch_batches, guarded_step, run_epoch, scan_epoch
from jaxnn.train.evaluation import EvalStep, evaluate_batches, evaluate_sets, split_batches
from jaxnn.train.loggers import CsvLogger, JsonLinesLogger, TensorBoardLogger, record_rows
from jaxnn.train.loop import check_data, check_remainder, evaluate, fit
from jaxnn.train.placement import DataParallel, Local, RowSharded
from jaxnn.train.rows import Rows, as_rows, create_stacked, seed_keys, stack, unstack
from jaxnn.train.state import TrainState, create
from jaxnn.train.steps import Batch, make_eval_step, make_train_step, mean_metrics
from jaxnn.train.trainer import Recorder, fit_stack, record_hparams, run_rows

__all__ = [
    "Batch",
    "Callback",
    "Checkpointer",
    "CsvLogger",
    "DataParallel",
    "EarlyStopping",
    "EvalStep",
    "JsonLinesLogger",
    "Local",
    "Progress",
    "Recorder",
    "RowSharded",
    "Rows",
    "TrainState",
    "TensorBoardLogger",
    "TrainStep",
    "as_callbacks",
    "as_rows",
    "check_data",
    "check_remainder",
    "create",
    "create_stacked",
    "epoch_batches",
    "evaluate",
    "evaluate_batches",
    "evaluate_sets",
    "fit",
    "fit_stack",
    "guarded_step",
    "make_eval_step",
    "make_train_step",
    "mean_metrics",
    "record_hparams",
    "record_rows",
    "run_epoch",
    "run_rows",
    "scan_epoch",
    "seed_keys",
    "split_batches",
    "stack",
    "unstack",
]
