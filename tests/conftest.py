"""Test-wide settings: tests run on the CPU so that results are deterministic and comparable."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
