"""The experiments' plotting helpers."""

import numpy as np

from experiments._plots import smooth


def test_smooth_is_a_trailing_moving_average():
    curve = np.random.default_rng(0).normal(size=37)
    expected = [curve[max(0, i - 4): i + 1].mean() for i in range(len(curve))]
    np.testing.assert_allclose(smooth(curve, 5), expected, rtol=1e-12)
