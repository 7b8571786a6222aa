"""Every optimizer, with an lr fitted to the problem, reaches the minimum of two classic 2-D test functions.

Ill-conditioned quadratic f(x, y) = x²/20 + y² from (−7, 2), f = 6.45 there: after 100 steps f < 1e-3, i.e.
|x| < 0.14 and |y| < 0.032, a 50-fold shrink of the distance to the minimum; the x direction has curvature 1/10,
so plain gradient descent with lr = 0.9 contracts it by 0.91 per step (0.91¹⁰⁰ ≈ 1e-4), which gives the slack.

Rosenbrock f(x, y) = (1 − x)² + 100(y − x²)² from (−1.5, 2), f = 12.5 there: f < 1e-2 implies |1 − x| < 0.1, so
the run has followed the whole curved valley (where f stays above 1 until x > 0) to the minimum at (1, 1).
Plain SGD must keep lr below 2/H ≈ 1e-3 (H, the largest Hessian eigenvalue, is about 2100 at the start) and so
gets 10000 steps; AdaDelta, whose steps are about √eps in size at first, needs a decaying lr to settle in the
narrow valley.
"""

import jax
import jax.numpy as jnp
import pytest

from jaxnn import optim


def ellipse(p):
    return p[0] ** 2 / 20 + p[1] ** 2


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


@jax.jit(static_argnums=(0, 1, 3))
def minimize(opt, f, start, steps):
    def body(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(f)(p), state, p)
        return (optim.apply_updates(p, updates), state), None

    (p, _), _ = jax.lax.scan(body, (start, opt.init(start)), length=steps)
    return f(p)


ELLIPSE = {
    "sgd": optim.sgd(0.9),
    "momentum": optim.momentum(0.4, 0.5),
    "nesterov": optim.nesterov(0.4, 0.5),
    "adagrad": optim.adagrad(2.0),
    "rmsprop": optim.rmsprop(0.1, decay=0.99),
    # AdaDelta's first steps are ~lr·√eps: a larger eps is its "learning rate" for a 100-step run.
    "adadelta": optim.adadelta(2.0, eps=1e-2),
    "adam": optim.adam(0.5),
    "amsgrad": optim.amsgrad(0.5),
    "adamw": optim.adamw(0.5),
}

ROSENBROCK = {
    "sgd": (optim.sgd(1e-3), 10000),
    "momentum": (optim.momentum(3e-4, 0.9), 5000),
    "nesterov": (optim.nesterov(3e-4, 0.9), 5000),
    "adagrad": (optim.adagrad(1.5), 5000),
    "rmsprop": (optim.rmsprop(optim.exponential_decay(0.01, 1e-3)), 5000),
    "adadelta": (optim.adadelta(optim.exponential_decay(0.3, 3e-4), rho=0.9), 5000),
    "adam": (optim.adam(0.03), 5000),
    "amsgrad": (optim.amsgrad(0.03), 5000),
    "adamw": (optim.adamw(0.01), 5000),
}


@pytest.mark.parametrize("name", ELLIPSE)
def test_ill_conditioned_quadratic(name):
    assert minimize(ELLIPSE[name], ellipse, jnp.array([-7.0, 2.0]), 100) < 1e-3


@pytest.mark.parametrize("name", ROSENBROCK)
def test_rosenbrock(name):
    opt, steps = ROSENBROCK[name]
    assert minimize(opt, rosenbrock, jnp.array([-1.5, 2.0]), steps) < 1e-2
