"""sweep.run checks its data's values on the host before anything trains (issue 12, cause 12)."""

import numpy as np
import pytest

from jaxnn import sweep

from .common import BUILD, CONFIGS, DATA


def test_nan_inputs_are_refused_instead_of_reported_as_divergence():
    (x, y), eval_split = DATA
    x = x.copy()
    x[17, 2] = np.nan
    with pytest.raises(ValueError, match=r"data\[0\]: x\[17, 2\] = nan is not finite"):
        sweep.run(BUILD, CONFIGS, ((x, y), eval_split), epochs=1, batch_size=32, progress=False)


def test_negative_eval_labels_are_refused():
    train_split, (x, y) = DATA
    y = y.copy()
    y[4] = -1
    with pytest.raises(ValueError, match=r"data\[1\]: y\[4\] = -1 is not a class label"):
        sweep.run(BUILD, CONFIGS, (train_split, (x, y)), epochs=1, batch_size=32, progress=False)
