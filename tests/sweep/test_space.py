"""Distributions, Space.sample and grid: ranges, reproducibility, static/traced fields, and every bad argument."""

import math

import jax
import numpy as np
import pytest

from jaxnn import sweep
from jaxnn.sweep.space import Fixed, IntUniform, LogUniform, Uniform

SPACE = sweep.Space(lr=sweep.log_uniform(1e-6, 1e-2), dropout=sweep.uniform(0.0, 0.5),
                    width=sweep.int_uniform(2, 5, static=True), optimizer=sweep.choice(["sgd", "adam"]),
                    momentum=sweep.choice([0.0, 0.9]), seed=sweep.fixed(7))


def test_samples_lie_in_their_ranges_and_are_reproducible():
    configs = SPACE.sample(jax.random.key(0), 200)
    assert len(configs) == 200 and configs.names == ["lr", "dropout", "width", "optimizer", "momentum", "seed"]
    lr = np.array([c["lr"] for c in configs])
    assert lr.min() >= 1e-6 and lr.max() <= 1e-2
    # Log-uniform: each of the four decades gets about a quarter of the samples.
    counts = np.histogram(np.log10(lr), bins=[-6, -5, -4, -3, -2])[0]
    assert counts.min() > 30
    assert {c["width"] for c in configs} == {2, 3, 4, 5}
    assert {c["optimizer"] for c in configs} == {"sgd", "adam"}
    assert all(c["seed"] == 7 and 0 <= c["dropout"] <= 0.5 for c in configs)
    assert all(np.float32(c["lr"]) == c["lr"] for c in configs)  # exactly what the traced float32 will hold
    assert SPACE.sample(0, 200).rows == configs.rows
    assert SPACE.sample(1, 200).rows != configs.rows


def test_adding_a_field_keeps_the_other_fields_draws():
    more = sweep.Space(**SPACE.fields, extra=sweep.uniform(0, 1))
    a, b = SPACE.sample(3, 10), more.sample(3, 10)
    assert [{k: c[k] for k in SPACE.fields} for c in b] == a.rows


def test_static_and_traced_fields():
    specs = SPACE.fields
    assert [name for name, s in specs.items() if s.static] == ["width", "optimizer", "seed"]
    assert specs["momentum"].dtype == np.float32 and sweep.int_uniform(1, 3).dtype == np.int32
    assert not sweep.int_uniform(1, 3).static and sweep.choice([1, 2], static=True).static
    assert specs["lr"].log and not specs["dropout"].log


def test_grid_is_the_cartesian_product_in_order():
    configs = sweep.grid(lr=[1e-3, 1e-2], act=["relu", "tanh"], depth=sweep.fixed(2))
    assert configs.rows == [{"lr": 1e-3, "act": "relu", "depth": 2}, {"lr": 1e-3, "act": "tanh", "depth": 2},
                            {"lr": 1e-2, "act": "relu", "depth": 2}, {"lr": 1e-2, "act": "tanh", "depth": 2}]
    assert not configs.specs["lr"].static and configs.specs["act"].static and configs.specs["depth"].static
    assert sweep.grid(w=sweep.choice([8, 16], static=True)).specs["w"].static


def test_configs_from_dicts_infers_static_fields():
    configs = sweep.Configs.from_dicts([{"lr": 0.1, "opt": "sgd"}, {"lr": 0.2, "opt": "adam"}])
    assert not configs.specs["lr"].static and configs.specs["opt"].static
    with pytest.raises(ValueError, match=r"configs\[1\] has fields"):
        sweep.Configs([{"a": 1}, {"b": 2}], {"a": sweep.fixed(1)})


@pytest.mark.parametrize(("field", "message"), [
    (sweep.log_uniform(0.0, 1.0), "needs low > 0"),
    (sweep.log_uniform(-1e-3, 1e-2), "needs low > 0"),
    (sweep.log_uniform(1e-2, 1e-3), "needs low < high"),
    (sweep.uniform(0.5, 0.5), "needs low < high"),
    (sweep.uniform(0.0, math.inf), "two finite numbers"),
    (sweep.int_uniform(3, 3), "needs low < high"),
    (sweep.int_uniform(1.5, 3), "needs two ints"),
    (sweep.choice([]), "no options"),
    (sweep.choice(["a", 1], static=False), "needs numeric options"),
])
def test_bad_fields_raise_naming_the_field(field, message):
    with pytest.raises(ValueError, match=f"my_field.*{message}"):
        sweep.Space(ok=sweep.uniform(0, 1), my_field=field)
    if isinstance(field, sweep.space.Choice):
        with pytest.raises(ValueError, match=f"my_field.*{message}"):
            sweep.grid(my_field=field)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="no fields"):
        sweep.Space()
    with pytest.raises(TypeError, match="'lr' is 0.1; pass a distribution"):
        sweep.Space(lr=0.1)
    with pytest.raises(ValueError, match="n=0"):
        SPACE.sample(0, 0)
    with pytest.raises(ValueError, match="lr: choice"):
        sweep.grid(lr=[])
    with pytest.raises(TypeError, match="sample continuous distributions"):
        sweep.grid(lr=sweep.log_uniform(1e-3, 1e-1))
    with pytest.raises(ValueError, match="no axes"):
        sweep.grid()


def test_narrow_and_edge():
    assert LogUniform(1e-6, 1e-2).narrow([1e-4, 3e-5, 2e-3]) == LogUniform(3e-5, 2e-3)
    assert Uniform(0, 1).narrow([0.5, 0.5]) == Fixed(0.5)
    assert IntUniform(1, 9, static=True).narrow([4, 2]) == IntUniform(2, 4, static=True)
    assert sweep.choice(["a", "b", "c"]).narrow(["c", "a", "c"]) == sweep.choice(["a", "c"])
    # Edges are 5% of the width, measured in log space for log fields: 1e-6..1e-2 is 4 decades.
    log = LogUniform(1e-6, 1e-2)
    assert log.edge(1e-6 * 10 ** 0.19) == "low" and log.edge(1e-6 * 10 ** 0.21) is None
    assert log.edge(1e-2 / 10 ** 0.19) == "high" and log.edge(1e-4) is None
    assert Uniform(0, 1).edge(0.97) == "high" and Uniform(0, 1).edge(0.5) is None
    assert sweep.choice([1e-3, 1e-2, 1e-1]).edge(1e-1) == "high"
    assert sweep.choice(["a", "b"]).edge("a") is None and sweep.fixed(3).edge(3) is None


# Issue 12 causes 1 and 6: non-finite values and names the result table uses are refused when configs are made.


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_nonfinite_values_are_refused_when_configs_are_made(bad):
    with pytest.raises(ValueError, match=r"lr: choice\(.*\) holds (nan|inf|-inf); numeric values must be finite"):
        sweep.grid(lr=[0.1, bad])
    with pytest.raises(ValueError, match=r"lr: choice\(.*\) holds .*must be finite"):
        sweep.Configs.from_dicts([{"lr": 0.1}, {"lr": bad}])
    with pytest.raises(ValueError, match=r"lr: choice\(.*\) holds .*must be finite"):
        sweep.Space(lr=sweep.choice([0.1, bad]))
    with pytest.raises(ValueError, match=r"wd: fixed\(.*\) holds .*must be finite"):
        sweep.Space(lr=sweep.uniform(0, 1), wd=sweep.fixed(bad))
    with pytest.raises(ValueError, match=r"w: choice\(.*\) holds .*must be finite"):
        sweep.grid(w=sweep.choice([1.0, bad], static=True))


@pytest.mark.parametrize("name", ["rank", "index", "epochs", "diverged_at"])
def test_result_table_columns_are_reserved(name):
    message = rf"a field may not be named '{name}': the sweep's result table has a column '{name}'"
    with pytest.raises(ValueError, match="Space: " + message):
        sweep.Space(**{name: sweep.uniform(0, 1)})
    with pytest.raises(ValueError, match="grid: " + message):
        sweep.grid(**{name: [1, 2]})
    with pytest.raises(ValueError, match="Configs.from_dicts: " + message):
        sweep.Configs.from_dicts([{name: 1, "lr": 0.1}])
    with pytest.raises(ValueError, match="Configs: " + message):
        sweep.Configs([{name: 1}], {name: sweep.fixed(1)})


def test_int_seeds_beyond_32_bits_are_refused():
    assert SPACE.sample(2**32 - 1, 3).rows != SPACE.sample(0, 3).rows
    for seed, same in [(2**32, 0), (-1, 2**32 - 1)]:
        with pytest.raises(ValueError, match=rf"key={seed} is not allowed: .*in \[0, 2\*\*32\).*equal key={same}"):
            SPACE.sample(seed, 3)
    with pytest.raises(TypeError, match="key=True is not allowed"):
        SPACE.sample(True, 3)
