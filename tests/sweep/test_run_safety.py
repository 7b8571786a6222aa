"""Issue 12 for sweeps: chunk checkpoints see what build makes, every group is traced before any trains, and
coarse_to_fine keeps finished rounds."""

import jax.numpy as jnp
import pytest

from jaxnn import losses, nn, optim, sweep, train
from jaxnn.sweep import engine

from .common import BATCH, CONFIGS, DATA


def _build(activation=nn.relu, l2=0.0, loss=losses.softmax_cross_entropy):
    def build(hp):
        model = nn.Sequential([nn.Dense(8), activation, nn.Dense(2)])
        return sweep.Trial(model, optim.sgd(hp["lr"]), l2=l2 + hp["wd"], loss=loss)

    return build


def _run(build, configs=CONFIGS, **kwargs):
    return sweep.run(build, configs, DATA, epochs=1, batch_size=BATCH, progress=False, **kwargs)


def _squared_logit(outputs, targets):  # another loss of the same signature
    return jnp.mean(outputs**2) + losses.softmax_cross_entropy(outputs, targets)


@pytest.mark.parametrize("changed", [{"activation": nn.tanh}, {"l2": 1e-2}, {"loss": _squared_logit}])
def test_a_changed_build_does_not_load_the_old_chunks(tmp_path, changed):
    _run(_build(), checkpoint_dir=tmp_path)
    _run(_build(), checkpoint_dir=tmp_path)  # the same build loads its chunks
    with pytest.raises(ValueError, match="different sweep .*build whose program differs"):
        _run(_build(**changed), checkpoint_dir=tmp_path)


def _failing_loss(outputs, targets):
    raise ValueError("this loss refuses every batch")


def test_a_group_that_fails_to_trace_fails_before_any_group_trains(monkeypatch):
    def build(hp):
        trial = _build()(hp)
        return trial._replace(loss=_failing_loss) if hp["kind"] == "bad" else trial

    epochs = []
    run_epoch = train.trainer.run_epoch
    monkeypatch.setattr(train.trainer, "run_epoch", lambda *a, **k: epochs.append(a[4]) or run_epoch(*a, **k))
    configs = sweep.grid(kind=["good", "bad"], lr=[0.05, 0.1], wd=[0.0])
    with pytest.raises(ValueError, match="refuses every batch") as error:
        _run(build, configs, chunk_size=2)
    assert epochs == []
    assert "static group {'kind': 'bad'} (configs [2, 3])" in "".join(error.value.__notes__)


def test_coarse_to_fine_keeps_the_finished_rounds_when_a_later_round_fails(monkeypatch):
    calls, run = [], engine.run

    def failing_second_round(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("round 1 ran out of memory")
        return run(*args, **kwargs)

    monkeypatch.setattr(engine, "run", failing_second_round)
    space = sweep.Space(lr=sweep.log_uniform(1e-3, 1e-1), wd=sweep.fixed(0.0))
    with pytest.raises(RuntimeError, match="out of memory") as error:
        sweep.coarse_to_fine(space, _build(), DATA, rounds=3, n=4, epochs=1, batch_size=BATCH, progress=False)
    assert len(error.value.results) == 1 and len(error.value.results[0].configs) == 4
    assert "the 1 finished round(s)" in "".join(error.value.__notes__)
