"""What every experiment script shares: its command line, where results go, and how they are written."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # experiments write files; they never open windows


def parse_args(description: str, argv: list[str] | None, epochs: tuple[int, int] | None = None,
               **extra: Any) -> argparse.Namespace:
    """The common command line: ``--out DIR`` (default ``results/``) and ``--quick`` (the CI-sized run).

    ``epochs=(full, quick)`` adds ``--epochs N``, whose default is ``full``, or ``quick`` with ``--quick``.
    ``extra`` maps further option names to ``argparse.add_argument`` keyword dicts.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path("results"), help="where figures and JSON go (results/)")
    parser.add_argument("--quick", action="store_true", help="a small, fast run (what CI runs)")
    if epochs is not None:
        parser.add_argument("--epochs", type=int, default=None,
                            help=f"epochs (default {epochs[0]}, {epochs[1]} with --quick)")
    for name, kwargs in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **kwargs)
    args = parser.parse_args(argv)
    if epochs is not None and args.epochs is None:
        args.epochs = epochs[1] if args.quick else epochs[0]
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def write_json(path: Path, data: Any) -> None:
    """Writes ``data`` as indented JSON atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
