"""Predicting with a stack of trained runs and scoring their ensemble (the mean of their probabilities)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import train


def member_probabilities(model: Any, states: train.TrainState, x: np.ndarray) -> np.ndarray:
    """Softmax outputs of every member, ``(members, examples, classes)``, in evaluation mode."""
    apply = jax.vmap(lambda ts: model.apply(ts.params, ts.model_state, jnp.asarray(x))[0])
    return np.asarray(jax.nn.softmax(jax.jit(apply)(states), axis=-1))


def ensemble_accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of the mean of the members' probabilities (``(members, examples, classes)``)."""
    return float(np.mean(probabilities.mean(axis=0).argmax(axis=-1) == y))
