"""``jaxnn.compilation_cache``: a second process loads what the first compiled, from the default folder or another.

The cache is process-wide JAX configuration, so every test that turns it on runs in a child process.
"""

import json

import pytest

import jaxnn
from jaxnn.cache import default_cache_dir
from tests.child import run_python

# Compiles once before the cache is on (a script's imports may), turns it on in the default folder, runs one
# jitted program; then switches to a second folder and runs another. Prints what JAX reported.
CHILD = """
    import json, sys
    import jax, jax.numpy as jnp
    import jaxnn
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(event) if event == "/jax/compilation_cache/cache_hits" else None)
    jax.jit(lambda x: x - 1.0)(jnp.ones(2)).block_until_ready()
    folder = jaxnn.compilation_cache()
    program = jax.jit(lambda w, x: jnp.tanh(x @ w).sum(axis=0))
    value = program(jnp.full((3, 5), 0.25), jnp.arange(6.0).reshape(2, 3)).tolist()
    first_hits = len(hits)
    other = jaxnn.compilation_cache(sys.argv[1])
    jax.jit(lambda x: jnp.cos(x) * 3.0)(jnp.ones(4)).block_until_ready()
    print(json.dumps({"folder": str(folder), "hits": first_hits, "value": value, "other": str(other),
                      "other_hits": len(hits) - first_hits}))
"""


def entries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith("-cache"))


def test_second_process_loads_from_the_cache(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    code = CHILD.replace("sys.argv[1]", repr(str(tmp_path / "other")))
    cold = json.loads(run_python(code, **env).stdout)
    folder = tmp_path / "xdg" / "jaxnn" / "xla"
    assert cold["folder"] == str(folder) and cold["other"] == str(tmp_path / "other")
    assert cold["hits"] == 0 and cold["other_hits"] == 0
    written, written_other = entries(folder), entries(tmp_path / "other")
    assert any(name.startswith("jit__lambda") for name in written) and written_other
    assert not set(written) & set(written_other)  # after the switch, entries go to the new folder only

    warm = json.loads(run_python(code, **env).stdout)
    assert warm["hits"] >= 1 and warm["other_hits"] >= 1  # the program and the one after the switch: loaded
    assert warm["value"] == cold["value"]
    assert entries(folder) == written and entries(tmp_path / "other") == written_other  # nothing recompiled


def test_default_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "jaxnn" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "jaxnn" / "xla"


@pytest.mark.parametrize("kwargs, message", [
    ({"min_compile_seconds": -1.0}, "min_compile_seconds=-1.0 is not allowed: min_compile_seconds must be a number"),
    ({"min_entry_bytes": 0.5}, "min_entry_bytes=0.5 is not allowed: min_entry_bytes must be an integer >= 0"),
])
def test_bad_thresholds_raise_before_anything_changes(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        jaxnn.compilation_cache(tmp_path / "never", **kwargs)
    assert not (tmp_path / "never").exists()
