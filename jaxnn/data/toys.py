"""Small synthetic data sets made in code, for examples and quick checks of a training loop."""

from __future__ import annotations

import numpy as np

from jaxnn.data.dataset import Split


def spirals(n: int = 100, classes: int = 3, *, noise: float = 0.2, seed: int = 0) -> Split:
    """The interleaved 2-D spirals of CS231n: a toy that a linear classifier cannot separate.

    Class ``k`` has ``n`` points at radii evenly spaced over [0, 1] and angles evenly spaced over
    ``[4k, 4(k + 1)]`` radians, each angle perturbed by Gaussian noise of standard deviation ``noise``.

    Args:
        n: Points per class.
        classes: Number of spiral arms (classes).
        noise: Standard deviation of the angle noise, in radians.
        seed: Seed of the NumPy generator.

    Returns:
        A :class:`Split` with ``x`` of shape (n · classes, 2) float32 and ``y`` int32 in ``[0, classes)``,
        grouped by class.

    Raises:
        ValueError: if ``n < 1``, ``classes < 1`` or ``noise < 0``.
    """
    if n < 1 or classes < 1 or noise < 0:
        raise ValueError(
            f"spirals(n={n}, classes={classes}, noise={noise}): need n >= 1 points per class, classes >= 1 "
            "and noise >= 0."
        )
    rng = np.random.default_rng(seed)
    k = np.repeat(np.arange(classes), n)
    r = np.tile(np.linspace(0.0, 1.0, n), classes)
    t = np.concatenate([np.linspace(4.0 * j, 4.0 * (j + 1), n) for j in range(classes)])
    t = t + noise * rng.standard_normal(t.shape)
    x = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    return Split(x.astype(np.float32), k.astype(np.int32))


def linear_regression(
    n: int = 200, *, slope: float = 2.0, intercept: float = 3.0, noise: float = 1.0, seed: int = 0
) -> Split:
    """The least-squares toy of the textbooks: ``y = slope · x + intercept + ε`` with ``x ~ U[0, 2)``.

    Args:
        n: Number of points.
        slope: The true slope.
        intercept: The true intercept.
        noise: Standard deviation of the Gaussian noise ``ε``.
        seed: Seed of the NumPy generator.

    Returns:
        A :class:`Split` with ``x`` and ``y`` of shape (n, 1), both float32.

    Raises:
        ValueError: if ``n < 1`` or ``noise < 0``.
    """
    if n < 1 or noise < 0:
        raise ValueError(f"linear_regression(n={n}, noise={noise}): need n >= 1 points and noise >= 0.")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 2.0, size=(n, 1))
    y = slope * x + intercept + noise * rng.standard_normal((n, 1))
    return Split(x.astype(np.float32), y.astype(np.float32))
