"""Runs a Python snippet in a fresh interpreter that imports this checkout of jaxnn, on the CPU.

For what only a new process shows: what ``import jaxnn`` loads and registers, output when stderr is a pipe,
a persistent compilation cache read by a second process.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jaxnn

ROOT = str(Path(jaxnn.__file__).parents[1])
TIMEOUT = 120.0  # seconds: far above the few seconds of work any snippet does, bounds a hung child


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Runs ``code`` (dedented) with stdout and stderr piped; asserts it exits 0 and returns the result."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT,
                          env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT, **env})
    assert done.returncode == 0, done.stderr
    return done
