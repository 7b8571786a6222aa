"""The built-in loggers write every recorded value: each file is read back and compared to what was recorded.

The loggers are driven as a training loop drives them (``on_train_begin``, ``on_epoch_end`` per epoch,
``on_train_end``), with records of the two shapes the loops produce: floats for one run, one value per row
for stacked runs.
"""

import csv
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxnn import train

SINGLE = [{"loss": np.float32(0.75), "accuracy": 0.5}, {"loss": 0.5, "accuracy": np.float32(0.625)},
          {"loss": math.nan, "accuracy": 0.25}]
STACKED = [{"loss": np.array([0.9, 0.8, np.nan], np.float32), "diverged_at": np.array([-1, -1, 7]), "time": 0.5},
           {"loss": np.array([0.7, 0.6, np.nan], np.float32), "diverged_at": np.array([-1, -1, 7]), "time": 1.5}]


def drive(logger, records, start_epoch=0, rows=1, end=True):
    logger.on_train_begin({"epochs": start_epoch + len(records), "start_epoch": start_epoch, "rows": rows})
    for epoch, record in enumerate(records, start_epoch + 1):
        logger.on_epoch_end(epoch, record)
    if end:
        logger.on_train_end({})


def expected_rows(records, start_epoch=0, rows=1):
    """The rows the loggers must write, derived directly from the records."""
    out = []
    for epoch, record in enumerate(records, start_epoch + 1):
        if rows == 1:
            out.append({"epoch": epoch, **{k: float(v) for k, v in record.items()}})
        else:
            out += [{"epoch": epoch, "row": i, **{k: np.asarray(v).tolist()[i] if np.ndim(v) else v
                                                  for k, v in record.items()}} for i in range(rows)]
    return out


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def same(got, want):
    """Row lists equal, numbers to float32 precision, NaN matching NaN (or JSON's null)."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w)
        for k in w:
            if isinstance(w[k], float) and math.isnan(w[k]):
                assert g[k] is None or math.isnan(float(g[k])), k
            else:
                assert float(g[k]) == pytest.approx(w[k], rel=1e-6), k


def test_jsonl_single_run_values_and_nan_as_null(tmp_path):
    drive(train.JsonLinesLogger(tmp_path / "log.jsonl"), SINGLE)
    rows = read_jsonl(tmp_path / "log.jsonl")
    same(rows, expected_rows(SINGLE))
    assert rows[2]["loss"] is None  # strict JSON: no NaN token


def test_jsonl_stacked_one_line_per_row(tmp_path):
    drive(train.JsonLinesLogger(tmp_path / "log.jsonl"), STACKED, rows=3)
    rows = read_jsonl(tmp_path / "log.jsonl")
    same(rows, expected_rows(STACKED, rows=3))
    assert [r["diverged_at"] for r in rows[:3]] == [-1, -1, 7] and isinstance(rows[2]["diverged_at"], int)


def test_one_stacked_row_keeps_its_row_column(tmp_path):
    drive(train.JsonLinesLogger(tmp_path / "log.jsonl"), [{"loss": np.array([0.5])}])
    assert read_jsonl(tmp_path / "log.jsonl") == [{"epoch": 1, "row": 0, "loss": 0.5}]


@pytest.mark.parametrize("make, read", [(train.JsonLinesLogger, read_jsonl),
                                        (train.CsvLogger, lambda p: list(csv.DictReader(open(p))))])
def test_each_epoch_is_on_disk_before_the_run_ends(tmp_path, make, read):
    logger = make(tmp_path / "log")
    drive(logger, SINGLE[:2], end=False)  # no on_train_end: as after a crash
    same(read(tmp_path / "log"), expected_rows(SINGLE[:2]))


@pytest.mark.parametrize("make, read", [(train.JsonLinesLogger, read_jsonl),
                                        (train.CsvLogger, lambda p: list(csv.DictReader(open(p))))])
def test_resume_appends_after_the_checkpoint_epoch_and_a_fresh_run_starts_over(tmp_path, make, read):
    path = tmp_path / "log"
    first = [{"loss": 3.0}, {"loss": 2.0}, {"loss": 1.5}]  # epoch 3 was logged but not checkpointed
    drive(make(path), first, end=False)
    with open(path, "a") as f:
        f.write('{"epoch": 4, "lo')  # killed in the middle of a line
    resumed = [{"loss": 1.25}, {"loss": 1.0}]
    drive(make(path), resumed, start_epoch=2)
    same(read(path), expected_rows(first[:2]) + expected_rows(resumed, start_epoch=2))
    drive(make(path), first[:1])
    same(read(path), expected_rows(first[:1]))


def test_csv_columns_are_stable_when_a_later_epoch_adds_a_name(tmp_path):
    path = tmp_path / "log.csv"
    records = [{"loss": 1.0, "accuracy": 0.5}, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625},
               {"accuracy": 0.875, "val_loss": math.inf}]
    drive(train.CsvLogger(path), records)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss"
    assert lines[1:] == ["1,1.0,0.5,", "2,0.5,0.75,0.625", "3,,0.875,inf"]


def test_csv_stacked_rows_and_nan(tmp_path):
    path = tmp_path / "log.csv"
    drive(train.CsvLogger(path), STACKED, rows=3)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "row", "loss", "diverged_at", "time"]
    same(rows, expected_rows(STACKED, rows=3))


# --- TensorBoard: the event files are parsed directly (TFRecord framing, then the Event protocol buffer) ---


def read_events(folder):
    """``(tag, step, value)`` of every scalar and the purge steps (session starts) in ``folder``'s event files."""
    from tensorboardX.proto.event_pb2 import Event

    scalars, starts = [], []
    for file in sorted(Path(folder).glob("events.out.tfevents.*")):
        data, at = file.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack_from("<Q", data, at)
            event = Event.FromString(data[at + 12:at + 12 + length])  # 8 length + 4 CRC, then the record
            at += 12 + length + 4
            if event.HasField("session_log"):
                starts.append(event.step)
            scalars += [(v.tag, event.step, v.simple_value) for v in event.summary.value if v.HasField("simple_value")]
    return scalars, starts


def test_tensorboard_single_run_scalars(tmp_path):
    drive(train.TensorBoardLogger(tmp_path), SINGLE)
    scalars, _ = read_events(tmp_path)
    got = {(tag, step): value for tag, step, value in scalars}
    want = {(k, epoch): float(v) for epoch, record in enumerate(SINGLE, 1) for k, v in record.items()}
    assert len(scalars) == len(want) and sorted(got) == sorted(want)
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-6)  # NaN equals NaN


def test_tensorboard_stacked_rows_are_runs_in_subfolders(tmp_path):
    drive(train.TensorBoardLogger(tmp_path), STACKED, rows=3)
    for i in range(3):
        scalars, _ = read_events(tmp_path / f"row_{i}")
        loss = np.array([(step, value) for tag, step, value in scalars if tag == "loss"])
        np.testing.assert_allclose(loss, [(e, r["loss"][i]) for e, r in enumerate(STACKED, 1)], rtol=1e-6)
        assert sorted({tag for tag, _, _ in scalars}) == ["diverged_at", "loss", "time"]


def test_tensorboard_resume_marks_the_purge_step(tmp_path):
    drive(train.TensorBoardLogger(tmp_path), [{"loss": 2.0}])
    drive(train.TensorBoardLogger(tmp_path), [{"loss": 1.0}], start_epoch=3)
    _, starts = read_events(tmp_path)
    assert starts == [4]  # TensorBoard hides what an interrupted run wrote from epoch 4 on


def test_tensorboard_without_tensorboardx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"jaxnn\[tensorboard\]"):
        train.TensorBoardLogger(tmp_path)


def test_record_rows_reference():
    assert train.record_rows(2, {"loss": np.array([0.5, 0.25]), "time": 1.0}, rows=2) == [
        {"epoch": 2, "row": 0, "loss": 0.5, "time": 1.0}, {"epoch": 2, "row": 1, "loss": 0.25, "time": 1.0}]
    assert train.record_rows(1, {"loss": np.float32(0.5), "w": np.array([1.0, 2.0])}) == [
        {"epoch": 1, "loss": 0.5, "w": [1.0, 2.0]}]
