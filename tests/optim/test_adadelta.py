"""AdaDelta against the NumPy rule of the table (eps inside both roots)."""

import pytest

from .reference import check_against_reference


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # lr=1.0, rho=0.95, eps=1e-6
        {"weight_decay": 0.1},
        {"lr": 0.5, "rho": 0.8, "eps": 1e-3, "weight_decay": 0.05},
    ],
)
def test_adadelta_matches_reference(kwargs):
    check_against_reference("adadelta", **kwargs)
