"""``compilation_cache``: JAX's persistent compilation cache, so that a new process reuses earlier compiles.

A sweep's first call is mostly compilation (dozens of XLA programs: init, the epoch, evaluation, glue). With
the cache on, a second process that traces the same programs loads the executables from disk instead of
compiling them again; tracing and lowering still run.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

from jaxnn.validation import check_range


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxnn/xla``, or ``~/.cache/jaxnn/xla`` when ``XDG_CACHE_HOME`` is unset."""
    root = os.environ.get("XDG_CACHE_HOME")
    return (Path(root).expanduser() if root else Path.home() / ".cache") / "jaxnn" / "xla"


def compilation_cache(path: str | os.PathLike | None = None, min_compile_seconds: float = 0.0,
                      min_entry_bytes: int = 0) -> Path:
    """Turns on JAX's persistent compilation cache for this process; returns its folder.

    Every XLA program compiled from then on whose compile took at least ``min_compile_seconds`` is written
    to ``path``, and any program compiled earlier, in this process or another, is loaded from there. The
    default threshold 0 caches everything: on a quiet CPU most of a sweep's programs compile in well under a
    second, and reading one back costs less than compiling it (JAX's own default, 1 s, would skip most of
    them). Compile time as counted by ``sweep.run`` includes loading from the cache. Only trust a folder that
    no one else can write to: a cache entry is executable code.

    Call it once at the start of a script; a later call with another path switches to that folder.

    Args:
        path: the cache folder (created if missing); default :func:`default_cache_dir`.
        min_compile_seconds: programs that compiled faster than this are not written (``>= 0``).
        min_entry_bytes: programs whose serialized executable is smaller than this are not written (``>= 0``).

    Returns:
        The absolute path of the cache folder.

    Raises:
        ValueError: a negative or non-finite ``min_compile_seconds`` or ``min_entry_bytes``.

    Example::

        # not run: turns on the persistent cache for the rest of the process
        import jaxnn
        jaxnn.compilation_cache()             # ~/.cache/jaxnn/xla
        jax.jit(lambda x: x * 2)(1.0)         # compiled here, loaded from the cache by the next process
    """
    check_range("min_compile_seconds", min_compile_seconds, lambda v: v >= 0, "a number of seconds >= 0")
    check_range("min_entry_bytes", min_entry_bytes, lambda v: (v >= 0) & (v == v.round()), "an integer >= 0")
    folder = (Path(path).expanduser() if path is not None else default_cache_dir()).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    # JAX reads 0 as "let the file system choose a minimum" and -1 as "no minimum": 0 here means no minimum.
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", int(min_entry_bytes) or -1)
    if jax.config.jax_compilation_cache_dir != str(folder):
        jax.config.update("jax_compilation_cache_dir", str(folder))
        _jax_cache.reset_cache()  # JAX opens its cache once per process: a new folder needs a new one
    return folder
