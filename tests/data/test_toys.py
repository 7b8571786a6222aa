import numpy as np
import pytest

from jaxnn.data import linear_regression, spirals


def test_spirals_geometry():
    s = spirals(50, 4, noise=0.0)
    assert s.x.shape == (200, 2) and s.x.dtype == np.float32 and s.y.dtype == np.int32
    assert s.y.tolist() == [k for k in range(4) for _ in range(50)]
    for k in range(4):
        arm = s.x[s.y == k].astype(np.float64)
        np.testing.assert_allclose(np.hypot(arm[:, 0], arm[:, 1]), np.linspace(0, 1, 50), atol=1e-6)
        # Without noise the angle (from the y axis) sweeps [4k, 4k + 4]; skip the point at radius 0.
        angle = np.unwrap(np.arctan2(arm[1:, 0], arm[1:, 1]))
        t = np.linspace(4 * k, 4 * k + 4, 50)[1:]
        np.testing.assert_allclose(angle - angle[0], t - t[0], atol=1e-5)


def test_spirals_noise_moves_angles_not_radii():
    a, b = spirals(100, 3, seed=1), spirals(100, 3, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    c = spirals(100, 3, seed=2)
    assert not np.allclose(a.x, c.x)
    np.testing.assert_allclose(np.hypot(*a.x.T), np.hypot(*c.x.T), atol=1e-6)


def test_linear_regression_without_noise_is_the_line():
    s = linear_regression(50, noise=0.0)
    assert s.x.shape == s.y.shape == (50, 1) and s.y.dtype == np.float32
    np.testing.assert_allclose(s.y, 2 * s.x + 3, rtol=1e-6)
    assert 0 <= s.x.min() and s.x.max() < 2


def test_linear_regression_least_squares_recovers_the_line():
    s = linear_regression()
    design = np.hstack([s.x, np.ones_like(s.x)])
    (slope, intercept), residual, *_ = np.linalg.lstsq(design, s.y[:, 0], rcond=None)
    assert abs(slope - 2) < 0.4 and abs(intercept - 3) < 0.4
    assert 0.8 < np.sqrt(residual[0] / 200) < 1.2


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"classes": 0}, {"noise": -1.0}])
def test_spirals_errors(kwargs):
    with pytest.raises(ValueError, match="spirals"):
        spirals(**kwargs)


def test_linear_regression_errors():
    with pytest.raises(ValueError, match="noise=-1"):
        linear_regression(noise=-1)
