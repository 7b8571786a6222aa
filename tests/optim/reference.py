"""Shared test helpers: NumPy float64 references for every optimizer, schedule and clip, plus the JAX-side harness.

The references are re-derived from the update-rule table of the optimizer issue, not from jaxnn's code, so a
mismatch is evidence of a bug. Each rule is elementwise: ``rule(p, g, state, t)`` takes one float64 leaf, its
gradient, a dict that holds the leaf's moments (empty before the first step) and ``t`` counting steps from 1,
and returns the new leaf. ``g`` is the raw gradient; the rule adds coupled weight decay itself.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import optim

STEPS = 25
SHAPES = {"dense": {"w": (3, 4), "b": (4,)}, "conv": [(2, 2, 3)]}


# ---- NumPy references (float64) ----------------------------------------------------------------------------


def _rate(lr, t):
    """The lr of step t: a schedule gets the number of updates already applied, t - 1."""
    return lr(t - 1) if callable(lr) else lr


def sgd(lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    def rule(p, g, s, t):
        g = g + weight_decay * p
        v = s.get("v", 0.0)
        s["v"] = momentum * v - _rate(lr, t) * g
        # With momentum 0 both forms reduce to p - lr·g, the plain rule.
        return p - momentum * v + (1 + momentum) * s["v"] if nesterov else p + s["v"]

    return rule


def momentum(lr=0.01, momentum=0.9, weight_decay=0.0):
    return sgd(lr, momentum, weight_decay=weight_decay)


def nesterov(lr=0.01, momentum=0.9, weight_decay=0.0):
    return sgd(lr, momentum, nesterov=True, weight_decay=weight_decay)


def adagrad(lr=0.01, eps=1e-7, initial_accumulator=0.0, weight_decay=0.0):
    def rule(p, g, s, t):
        g = g + weight_decay * p
        s["h"] = s.get("h", initial_accumulator) + g**2
        return p - _rate(lr, t) * g / (np.sqrt(s["h"]) + eps)

    return rule


def rmsprop(lr=0.01, decay=0.9, eps=1e-8, weight_decay=0.0):
    def rule(p, g, s, t):
        g = g + weight_decay * p
        s["h"] = decay * s.get("h", 0.0) + (1 - decay) * g**2
        return p - _rate(lr, t) * g / (np.sqrt(s["h"]) + eps)

    return rule


def adadelta(lr=1.0, rho=0.95, eps=1e-6, weight_decay=0.0):
    def rule(p, g, s, t):
        g = g + weight_decay * p
        s["s"] = rho * s.get("s", 0.0) + (1 - rho) * g**2
        delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["s"] + eps) * g
        s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta**2
        return p - _rate(lr, t) * delta

    return rule


def _adam(lr, b1, b2, eps, coupled, decoupled, use_max):
    def rule(p, g, s, t):
        g = g + coupled * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
        if use_max:  # the maximum is over the raw v, before bias correction
            s["v_max"] = np.maximum(s.get("v_max", 0.0), s["v"])
        m_hat = s["m"] / (1 - b1**t)
        v_hat = s["v_max" if use_max else "v"] / (1 - b2**t)
        a = _rate(lr, t)
        return p - a * decoupled * p - a * m_hat / (np.sqrt(v_hat) + eps)

    return rule


def adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    return _adam(lr, b1, b2, eps, weight_decay, 0.0, use_max=False)


def amsgrad(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    return _adam(lr, b1, b2, eps, weight_decay, 0.0, use_max=True)


def adamw(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01):
    return _adam(lr, b1, b2, eps, 0.0, weight_decay, use_max=False)


def step_decay(lr0, factor, every):
    return lambda t: lr0 * factor ** np.floor(t / every)


def exponential_decay(lr0, k):
    return lambda t: lr0 * np.exp(-k * t)


def inverse_time_decay(lr0, k):
    return lambda t: lr0 / (1 + k * t)


def cosine_decay(lr0, total_steps, final=0.0):
    return lambda t: final + (lr0 - final) * 0.5 * (1 + np.cos(np.pi * min(t, total_steps) / total_steps))


def exponential_ramp(lr0, final, total_steps):
    return lambda t: lr0 * (final / lr0) ** (min(t, total_steps) / total_steps)


def warmup(schedule, steps):
    """Linear ramp to schedule(0), never past it; the schedule's own clock starts at t = steps."""
    return lambda t: schedule(0) * min(1.0, (t + 1) / steps) if t < steps else schedule(t - steps)


def clip_by_global_norm(leaves, max_norm):
    norm = np.sqrt(sum(np.sum(np.square(np.asarray(x, np.float64))) for x in leaves))
    return [np.asarray(x, np.float64) * min(1.0, max_norm / norm) for x in leaves]


def numpy_grad(p):
    """d/dp of sin(p)·p², written by hand (the JAX side differentiates ``loss`` with jax.grad)."""
    return np.cos(p) * p**2 + 2 * p * np.sin(p)


def run_reference(rule, params, steps=STEPS, grad=numpy_grad):
    """Final params after ``steps`` steps of ``rule`` on the loss sum(sin(p)·p²), in float64."""

    def one_leaf(p):
        p, state = np.asarray(p, np.float64), {}
        for t in range(1, steps + 1):
            p = rule(p, grad(p), state, t)
        return p

    return jax.tree.map(one_leaf, params)


# ---- JAX-side harness --------------------------------------------------------------------------------------

# Every optimizer with its defaults, for the tests that hold for all of them.
OPTIMIZERS = {
    "sgd": optim.sgd,
    "momentum": optim.momentum,
    "nesterov": optim.nesterov,
    "adagrad": optim.adagrad,
    "rmsprop": optim.rmsprop,
    "adadelta": optim.adadelta,
    "adam": optim.adam,
    "amsgrad": optim.amsgrad,
    "adamw": optim.adamw,
}


def make_params(dtype=jnp.float32, seed=0):
    """The nested test pytree, values in [-2, 2] where sin(p)·p² is far from linear."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda shape: jnp.asarray(rng.uniform(-2, 2, shape), dtype), SHAPES, is_leaf=lambda x: isinstance(x, tuple)
    )


def loss(params):
    return sum(jnp.sum(jnp.sin(p) * p**2) for p in jax.tree.leaves(params))


def run(opt, params, steps=STEPS):
    """Final params and state after ``steps`` gradient steps of ``opt`` on ``loss``; traceable (vmap, jit)."""

    def body(carry, _):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p), s, p)
        return (optim.apply_updates(p, updates), s), None

    (params, state), _ = jax.lax.scan(body, (params, opt.init(params)), length=steps)
    return params, state


def check_against_reference(name, **kwargs):
    """Runs ``optim.<name>(**kwargs)`` and the NumPy rule of the same name on the test tree; asserts they agree."""
    params = make_params()
    actual, _ = run(getattr(optim, name)(**kwargs), params)
    assert_trees_close(actual, run_reference(globals()[name](**kwargs), params))


def tree_row(tree, i):
    """Run ``i`` of a tree of stacked (vmapped) results."""
    return jax.tree.map(lambda x: x[i], tree)


def assert_trees_close(actual, expected, rtol=1e-5, atol=1e-6):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(e, np.float64), rtol=rtol, atol=atol)


def assert_trees_equal(actual, expected):
    """Bitwise equality, leaf by leaf (dtypes included)."""
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected)):
        assert jnp.asarray(a).dtype == jnp.asarray(e).dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(e))
