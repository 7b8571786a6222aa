"""Callbacks: ``as_callbacks`` normalises what loops receive, and ``Progress`` reports with stderr piped or on a tty.

The non-terminal case runs in a child process whose stderr is a pipe, driven as a training loop drives it.
"""

import io
import re
import textwrap

import numpy as np
import pytest

from jaxnn import train
from tests.child import run_python

# (name, start_epoch, epochs, rows, interval): each drives one Progress, with its name as desc, in one child
SCENARIOS = [("single", 0, 3, 1, 0.0), ("stacked", 0, 2, 3, 0.0), ("throttled", 0, 4, 1, 3600.0),
             ("resumed", 2, 4, 1, 0.0)]
DRIVE = """
    import math
    import numpy as np
    from jaxnn import train
    for name, start, epochs, rows, interval in SCENARIOS:
        progress = train.Progress(desc=name, interval=interval)
        progress.on_train_begin({"epochs": epochs, "start_epoch": start, "rows": rows})
        for epoch in range(start + 1, epochs + 1):
            if rows == 1:
                record = {"loss": 1.0 / epoch, "val_accuracy": 0.5 + epoch / 16}
            else:
                record = {"loss": np.array([2.0, 1.0 / epoch, math.nan]),
                          "val_accuracy": np.array([0.25, 0.5, math.nan])}
            progress.on_epoch_end(epoch, record)
        progress.on_train_end({})
    print("done")
"""
LINE = re.compile(r"^(\w+): epoch (\d+)/(\d+)  loss (\S+)  val_accuracy (\S+)  \d+\.\ds$")


@pytest.fixture(scope="module")
def piped():
    """``name -> [(epoch, epochs, loss, val_accuracy), ...]`` as printed by a child whose stderr is a pipe."""
    done = run_python(f"SCENARIOS = {SCENARIOS!r}\n" + textwrap.dedent(DRIVE))
    assert done.stdout.split() == ["done"]
    lines = done.stderr.splitlines()
    assert all(LINE.match(line) for line in lines), lines  # nothing else: no tqdm bar, no warnings
    out = {name: [] for name, *_ in SCENARIOS}
    for line in lines:
        name, *values = LINE.match(line).groups()
        out[name].append(tuple(values))
    return out


def test_piped_stderr_gets_one_line_per_epoch(piped):
    assert piped["single"] == [("1", "3", "1", "0.5625"), ("2", "3", "0.5", "0.625"), ("3", "3", "0.3333", "0.6875")]


def test_piped_stacked_lines_show_the_best_finite_row(piped):
    assert piped["stacked"] == [("1", "2", "1", "0.5"), ("2", "2", "0.5", "0.5")]


def test_piped_lines_are_throttled_but_first_and_last_always_print(piped):
    assert [epoch for epoch, *_ in piped["throttled"]] == ["1", "4"]


def test_piped_resumed_run_counts_from_start_epoch(piped):
    assert [(epoch, total) for epoch, total, *_ in piped["resumed"]] == [("3", "4"), ("4", "4")]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_tqdm_bar_and_no_lines():
    stream = FakeTerminal()
    progress = train.Progress(stream=stream)
    progress.on_train_begin({"epochs": 2, "start_epoch": 0, "rows": 1})
    for epoch in (1, 2):
        progress.on_epoch_end(epoch, {"loss": np.float32(0.25)})
    progress.on_train_end({})
    text = stream.getvalue()
    assert "2/2" in text and "loss=0.25" in text and "epoch 1/2" not in text


def test_progress_interval_must_be_non_negative():
    with pytest.raises(ValueError, match=r"interval=-1.0 is not allowed: interval must be a number of seconds >= 0"):
        train.Progress(interval=-1.0)


def test_as_callbacks_wraps_functions_and_keeps_order():
    seen = []
    progress = train.Progress()
    callbacks = train.as_callbacks([progress, lambda epoch, record: seen.append((epoch, record["loss"]))])
    assert callbacks[0] is progress and isinstance(callbacks[1], train.Callback)
    callbacks[1].on_epoch_end(3, {"loss": 0.5})
    assert seen == [(3, 0.5)]
    assert train.as_callbacks(None) == [] and train.as_callbacks(progress) == [progress]


def test_as_callbacks_rejects_what_is_not_callable():
    with pytest.raises(TypeError, match="callbacks: 3 is neither"):
        train.as_callbacks([3])
