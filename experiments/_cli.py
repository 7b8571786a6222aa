"""What every experiment script shares: its command line, the data it loads, and how results are written."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

import jaxnn
from jaxnn import data

matplotlib.use("Agg")  # experiments write files; they never open windows

DATA_OPTIONS: dict[str, dict[str, Any]] = {
    "dataset": {"choices": ["mnist1d", "mnist", "fashion_mnist"], "default": "mnist1d",
                "help": "mnist1d (default, generated locally) or an IDX data set in --data-dir"},
    "data_dir": {"type": Path, "default": None, "help": "folder with the IDX files (mnist, fashion_mnist)"},
    "seed": {"type": int, "default": 0, "help": "PRNG seed (0)"},
}
"""``parse_args`` options of the experiments that train on a data set: ``--dataset``, ``--data-dir``, ``--seed``."""


def parse_args(description: str, argv: list[str] | None, epochs: tuple[int, int] | None = None,
               **extra: Any) -> argparse.Namespace:
    """The common command line: ``--out DIR`` (default ``results/``), ``--quick`` (the CI-sized run) and
    ``--no-cache``; turns on JAX's persistent compilation cache (:func:`jaxnn.compilation_cache`) unless
    ``--no-cache`` is given, so that a second run of a script loads its programs instead of compiling them.

    ``epochs=(full, quick)`` adds ``--epochs N``, whose default is ``full``, or ``quick`` with ``--quick``.
    ``extra`` maps further option names to ``argparse.add_argument`` keyword dicts.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path("results"), help="where figures and JSON go (results/)")
    parser.add_argument("--quick", action="store_true", help="a small, fast run (what CI runs)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache (~/.cache/jaxnn/xla); the tests pass it")
    if epochs is not None:
        parser.add_argument("--epochs", type=int, default=None,
                            help=f"epochs (default {epochs[0]}, {epochs[1]} with --quick)")
    for name, kwargs in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **kwargs)
    args = parser.parse_args(argv)
    if epochs is not None and args.epochs is None:
        args.epochs = epochs[1] if args.quick else epochs[0]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.no_cache:
        jaxnn.compilation_cache()
    return args


def history_lists(history: dict[str, Any]) -> dict[str, list]:
    """The per-epoch records ``(rows, epochs)`` of a ``train.fit_stack`` history as lists, for the JSON."""
    return {name: np.asarray(values).tolist() for name, values in history.items() if np.ndim(values) == 2}


def write_json(path: Path, data: Any) -> None:
    """Writes ``data`` as indented JSON atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


def load(args: argparse.Namespace, train_size: int | None = None) -> data.Dataset:
    """The data set named by ``args`` (:data:`DATA_OPTIONS`), its training split cut to the first ``train_size``
    examples if given.

    Raises:
        ValueError: if ``train_size`` is not in [1, the number of training examples].
    """
    dataset = data.load(args.dataset, args.data_dir) if args.data_dir else data.load(args.dataset)
    if train_size is None:
        return dataset
    n = dataset.train.x.shape[0]
    if not 1 <= train_size <= n:
        raise ValueError(f"train_size={train_size!r} is not allowed: it must be in [1, {n}] ({args.dataset} "
                         f"has {n} training examples).")
    return dataset._replace(train=data.Split(dataset.train.x[:train_size], dataset.train.y[:train_size]))


def describe(args: argparse.Namespace, dataset: data.Dataset) -> dict[str, Any]:
    """The data settings every summary records."""
    return {"dataset": args.dataset, "input_width": int(np.prod(dataset.train.x.shape[1:])),
            "train_examples": int(dataset.train.x.shape[0]), "test_examples": int(dataset.test.x.shape[0]),
            "seed": args.seed}
