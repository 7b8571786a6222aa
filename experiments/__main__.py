"""Lists and runs the experiments: every module of this package with a ``main`` function is one.

    python -m experiments                          # every experiment with its one-line summary
    python -m experiments NAME [--quick] [--out DIR] [options]   # one experiment, with its own options
    python -m experiments all --quick --out DIR    # every experiment in turn (what CI runs)

Experiments are found by reading the modules' source (a top-level ``def main`` and the docstring's first
line), so listing imports nothing; underscore modules (``_cli.py``, ``_curves.py``, ...) are helpers. Every
experiment turns on JAX's persistent compilation cache (``jaxnn.compilation_cache()``) as it starts, so a second
run loads its programs instead of compiling them; ``--no-cache`` (passed on to each experiment) leaves it off.
"""

from __future__ import annotations

import ast
import importlib
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent


def discover() -> dict[str, str]:
    """``name -> summary`` (the docstring's first paragraph) of every experiment module here, sorted by name."""
    found = {}
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            found[path.stem] = " ".join((ast.get_docstring(tree) or "").split("\n\n")[0].split())
    return found


def run(name: str, argv: list[str]) -> dict:
    """Runs experiment ``name`` with command-line arguments ``argv`` and returns its summary.

    Raises:
        ValueError: if ``name`` is not an experiment (the message lists them).
    """
    experiments = discover()
    if name not in experiments:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(experiments)} (or 'all').")
    return importlib.import_module(f"experiments.{name}").main(argv)


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring); returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    experiments = discover()
    if not argv or argv[0] in ("-h", "--help", "list"):
        width = max(map(len, experiments))
        print(__doc__.split("\n\n")[1] + "\n")
        for name, summary in experiments.items():
            print(f"  {name:<{width}}  {summary}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in experiments and name != "all":
        print(f"unknown experiment {name!r}; choose one of: {', '.join(experiments)} (or 'all').", file=sys.stderr)
        return 2
    if name != "all":
        run(name, rest)
        return 0
    failed = []
    for name in experiments:
        print(f"=== {name}: {experiments[name]}", flush=True)
        start = time.perf_counter()
        try:
            run(name, rest)
        except Exception:  # keep going: one broken experiment must not hide the state of the others
            traceback.print_exc()
            failed.append(name)
        print(f"=== {name} {'FAILED' if name in failed else 'done'} in {time.perf_counter() - start:.0f} s\n",
              flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
