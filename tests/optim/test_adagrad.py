"""AdaGrad against the NumPy rule of the table (eps outside the root, accumulator starting at its initial value)."""

import pytest

from .reference import check_against_reference


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # lr=0.01, eps=1e-7, initial_accumulator=0
        {"weight_decay": 0.1},
        # A large eps makes "outside the root" (|g| + eps) measurably different from "inside" (sqrt(g² + eps)).
        {"lr": 0.3, "eps": 0.5, "initial_accumulator": 0.5, "weight_decay": 0.05},
    ],
)
def test_adagrad_matches_reference(kwargs):
    check_against_reference("adagrad", **kwargs)
