"""Adam, AMSGrad and AdamW against the NumPy rules of the table."""

import jax
import numpy as np
import pytest

from . import reference
from .reference import check_against_reference, make_params, run_reference

NON_DEFAULT = {"lr": 0.05, "b1": 0.5, "b2": 0.6, "eps": 1e-4}


@pytest.mark.parametrize("name", ["adam", "amsgrad"])
@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.1}, NON_DEFAULT, {**NON_DEFAULT, "weight_decay": 0.05}])
def test_adam_and_amsgrad_match_reference(name, kwargs):
    check_against_reference(name, **kwargs)


@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.2}, {**NON_DEFAULT, "weight_decay": 0.05}])
def test_adamw_matches_reference(kwargs):
    """Decoupled decay: p ← p − lr·wd·p_old − lr·m̂/(√v̂ + eps); the default wd is 0.01."""
    check_against_reference("adamw", **kwargs)


def test_amsgrad_case_exercises_the_maximum():
    """With b2=0.6 the raw v falls on some steps, so AMSGrad leaves Adam's path; else the cases above prove little."""
    params = make_params()
    ams = run_reference(reference.amsgrad(**NON_DEFAULT), params)
    plain = run_reference(reference.adam(**NON_DEFAULT), params)
    assert max(np.max(np.abs(a - b)) for a, b in zip(jax.tree.leaves(ams), jax.tree.leaves(plain))) > 1e-3
