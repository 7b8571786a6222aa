"""The experiments' command line turns on the persistent compilation cache, unless ``--no-cache`` says not to.

The cache is process-wide JAX configuration, so each case runs in a child process (with its own cache home).
"""

import pytest

from tests.child import run_python

CHILD = """
    import jax
    from experiments._cli import parse_args
    args = parse_args("an experiment", {argv!r})
    print(jax.config.jax_compilation_cache_dir)
"""


@pytest.mark.parametrize("no_cache", [False, True])
def test_cache_is_on_unless_no_cache(tmp_path, no_cache):
    argv = ["--out", str(tmp_path / "out")] + (["--no-cache"] if no_cache else [])
    done = run_python(CHILD.format(argv=argv), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "jaxnn" / "xla"
    assert done.stdout.strip() == ("None" if no_cache else str(folder))
    assert folder.is_dir() != no_cache
