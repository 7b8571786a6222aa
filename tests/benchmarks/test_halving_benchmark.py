"""The halving benchmark refuses counts it cannot run before it starts any process."""

import pytest

from benchmarks import halving


@pytest.mark.parametrize(("argv", "message"), [(["--configs", "0"], "--configs=0"), (["--repeats", "0"], "--repeats=0"),
                                               (["--eta", "1"], "--eta=1")])
def test_bad_counts_are_refused(argv, message, monkeypatch):
    monkeypatch.setattr(halving, "fresh", lambda *a: pytest.fail("started a process"))
    with pytest.raises(ValueError, match=message):
        halving.main(argv)
