"""Scoring an ensemble: the mean of its members' probabilities."""

import numpy as np

from experiments._ensemble import ensemble_accuracy


def test_ensemble_accuracy_averages_probabilities():
    # member 0 is confidently wrong on example 0; member 1 is mildly right: the mean follows member 0
    probs = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.4, 0.6], [0.3, 0.7]]])
    assert ensemble_accuracy(probs, np.array([1, 1])) == 0.5
    assert ensemble_accuracy(probs[1:], np.array([1, 1])) == 1.0
