"""RMSprop against the NumPy rule of the table (no bias correction, eps outside the root)."""

import pytest

from .reference import check_against_reference


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # lr=0.01, decay=0.9, eps=1e-8
        {"weight_decay": 0.1},
        {"lr": 0.003, "decay": 0.5, "eps": 0.3, "weight_decay": 0.05},
    ],
)
def test_rmsprop_matches_reference(kwargs):
    check_against_reference("rmsprop", **kwargs)
