"""The foreign-model and optax adapters import their libraries only when called."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_jaxnn_imports_no_flax_equinox_or_optax():
    code = ("import sys, jaxnn\nfrom jaxnn import checkpoint, data, losses, nn, optim, sweep, train\n"
            "assert callable(nn.from_flax) and callable(optim.from_optax)\n"
            "print(sorted(m for m in ('flax', 'equinox', 'optax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
