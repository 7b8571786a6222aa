"""The benchmarks' load meter and verdicts: others' share of the cores, and when a target check is inconclusive."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import _machine as machine


def test_verdict_met_missed_and_inconclusive():
    assert machine.verdict(True, 0.02) == "MET"
    assert machine.verdict(False, 0.02) == "MISSED"
    assert machine.verdict(True, machine.NOISY) == "MET"  # 15% is still quiet enough: "> 15%" is inconclusive
    assert machine.verdict(False, 0.4) == "inconclusive: other processes used 40% of the cores"
    assert machine.verdict(True, 0.16) == "inconclusive: other processes used 16% of the cores"
    assert machine.verdict(True, None) == "MET"  # not measured (no /proc): the check stands, the report says so


def test_others_share_subtracts_this_process_and_clips():
    # 300 busy jiffies on the cores, 100 of them this process's, over 1 s on 2 cores at 100 jiffies/s:
    # others took 200 jiffies = 2 core-seconds, all that 2 cores had in 1 s.
    assert machine.others_share((1000, 50), (1300, 150), 1.0, 2, 100) == pytest.approx(1.0)
    assert machine.others_share((1000, 50), (1150, 100), 2.0, 2, 100) == pytest.approx(100 / 100 / 4)
    # Tick rounding can give this process a jiffy more than the cores counted, or others a little over all.
    assert machine.others_share((1000, 50), (1000, 51), 1.0, 2, 100) == 0.0
    assert machine.others_share((1000, 0), (1500, 0), 2.0, 2, 100) == 1.0


def test_busy_jiffies_counts_only_the_given_cores_and_not_guest_time_twice():
    stat = ("cpu  30 0 10 500 5 0 0 0 7 0\n"
            "cpu0 10 0 5 250 2 1 1 2 7 0\n"  # busy: 10 + 5 + 1 + 1 + 2 (steal kept); guest 7 is inside user
            "cpu1 20 3 5 250 3 0 0 0 0 0\n"
            "intr 12345 1 2\n")
    assert machine.busy_jiffies(stat, {0}) == 19
    assert machine.busy_jiffies(stat, {1}) == 28
    assert machine.busy_jiffies(stat, None) == 47


def _process_jiffies(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.mark.skipif(machine.cpu_jiffies() is None, reason="needs /proc")
def test_meter_counts_a_spinning_process_that_is_not_ours():
    idle = machine.LoadMeter().start()
    time.sleep(0.2)
    share = idle.stop()
    assert 0.0 <= share <= 1.0  # whatever the other helpers of this machine are doing

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)  # past the interpreter's start-up
        meter = machine.LoadMeter().start()
        spun_before = _process_jiffies(spinner.pid)
        time.sleep(0.6)
        spun = _process_jiffies(spinner.pid) - spun_before
        share = meter.stop()
        elapsed = time.perf_counter() - meter.started
    finally:
        spinner.kill()
        spinner.wait()
    assert spun > 0  # it got some CPU even on a busy machine
    # Still running when the meter stopped, the spinner is another process: everything it burnt inside the
    # window is in others' share (less a few jiffies of tick rounding), however busy the machine was.
    others_jiffies = share * elapsed * machine.cores() * os.sysconf("SC_CLK_TCK")
    assert others_jiffies >= spun - 3
    assert 0.0 <= share <= 1.0


def test_time_interleaved_scales_and_orders_calls():
    calls = []

    def variant(name):
        def run():
            calls.append(name)
            time.sleep(0.01)
            return len(calls)
        return run

    timed = machine.time_interleaved({"a": variant("a"), "b": variant("b")}, repeats=3, scale={"b": 10.0})
    assert calls == ["a", "b"] * 4  # first calls, then the repeats round-robin
    assert len(timed.times["a"]) == len(timed.times["b"]) == 3
    assert timed.results == {"a": 7, "b": 8}  # each variant's last call
    assert min(timed.times["a"]) >= 0.01 and min(timed.times["b"]) >= 0.1  # b's times scaled by 10
    # b's first call: its own time, then 9 more calls' worth of steady state (its compile counted once)
    assert timed.first["b"] - 0.9 * timed.median["b"] >= 0.01
    assert timed.median["b"] == sorted(timed.times["b"])[1]
