"""What every benchmark records about the machine it ran on: the CPU, its cores, and how busy others kept it.

A benchmark on a shared machine measures the others too. :class:`LoadMeter` counts the CPU time every other
process took while the timed runs ran, as a share of all the cores, and :func:`verdict` turns a target check
into ``MET``/``MISSED`` only when that share was small enough for the numbers to mean something.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

NOISY = 0.15  # above this share of the cores used by others, a result is inconclusive


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages from /proc/loadavg, or None where there is none."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy jiffies of the whole machine, jiffies of this process and its waited-for children) from /proc, or
    None where there is none."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    return busy, sum(int(v) for v in own[11:15])  # utime + stime + cutime + cstime


class LoadMeter:
    """Measures the share of the cores other processes used between :meth:`start` and :meth:`stop`.

    Example::

        meter = LoadMeter().start()
        ...                       # the timed runs
        others = meter.stop()     # e.g. 0.03: others used 3% of the cores; None without /proc
    """

    def start(self) -> LoadMeter:
        self.before, self.started, self.load_before = cpu_jiffies(), time.perf_counter(), load_average()
        return self

    def stop(self) -> float | None:
        after, elapsed = cpu_jiffies(), time.perf_counter() - self.started
        self.load_after = load_average()
        if not (self.before and after) or elapsed <= 0:
            self.others = None
        else:
            other_busy = (after[0] - self.before[0]) - (after[1] - self.before[1])
            self.others = max(0.0, other_busy / os.sysconf("SC_CLK_TCK") / (elapsed * cores()))
        return self.others

    def line(self) -> str:
        """One line for the report: others' share and the load averages before and after."""
        if self.others is None:
            return "other processes' share of the cores: not measured (no /proc)"
        return (f"other processes used {self.others:.0%} of the machine's {cores()} cores during the timed runs "
                f"(load average {self.load_before} before, {self.load_after} after)")


def verdict(met: bool, others: float | None) -> str:
    """``MET`` or ``MISSED``, or ``inconclusive: ...`` when other processes used more than 15% of the cores."""
    if others is not None and others > NOISY:
        return f"inconclusive: other processes used {others:.0%} of the cores"
    return "MET" if met else "MISSED"
