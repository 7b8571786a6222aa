"""SGD, classical momentum and Nesterov momentum against the NumPy rules of the table."""

import pytest

from .reference import check_against_reference


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # the table's defaults: lr=0.01, no momentum
        {"lr": 0.05, "weight_decay": 0.1},
        {"lr": 0.02, "momentum": 0.5},
        {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.1},
        {"nesterov": True},  # Nesterov with momentum 0 is plain SGD with a (zero) velocity
        {"lr": 0.02, "momentum": 0.7, "nesterov": True},
        {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    ],
)
def test_sgd_matches_reference(kwargs):
    check_against_reference("sgd", **kwargs)


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.03, "momentum": 0.5, "weight_decay": 0.1}])
def test_momentum_and_nesterov_match_reference(name, kwargs):
    check_against_reference(name, **kwargs)
