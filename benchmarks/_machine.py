"""How every benchmark times its variants and what it records about the machine: the CPU, its cores, how busy
others kept them, and whether a target check can be trusted.

A benchmark on a shared machine measures the others too. :class:`LoadMeter` counts the CPU time every other
process took on this process's cores while the timed runs ran, as a share of those cores;
:func:`time_interleaved` times every variant's first call on its own and then its repeats round-robin with a
meter on each phase; and :func:`verdict` turns a target check into ``MET``/``MISSED`` only when others' share
was small enough for the numbers to mean something.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

NOISY = 0.15  # above this share of the cores used by others, a result is inconclusive


def cores() -> int:
    """The cores this process may run on."""
    cpus = _affinity()
    return len(cpus) if cpus else os.cpu_count() or 1


def _affinity() -> set[int] | None:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """``"<CPU model>, <n> cores"``: the line every report and JSON names its machine by."""
    return f"{cpu_model()}, {cores()} cores"


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages from /proc/loadavg, or None where there is none."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def busy_jiffies(stat: str, cpus: set[int] | None) -> int:
    """Busy jiffies of ``cpus`` (all of them when None) in the text of /proc/stat.

    A ``cpuN`` line reads ``user nice system idle iowait irq softirq steal guest guest_nice``; busy is all but
    idle and iowait, and guest time is left out because the kernel already counts it in user and nice. Steal
    stays in: a hypervisor's other guests took those cycles from this machine's cores.
    """
    busy = 0
    for line in stat.splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu" and (cpus is None or int(name[3:]) in cpus):
            fields = [int(v) for v in values[:8]]
            busy += sum(fields) - fields[3] - fields[4]
    return busy


def cpu_jiffies() -> tuple[int, int] | None:
    """(busy jiffies of this process's cores, jiffies of this process and its waited-for children) from /proc,
    or None where there is none."""
    try:
        busy = busy_jiffies(Path("/proc/stat").read_text(), _affinity())
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return busy, sum(int(v) for v in own[11:15])  # utime + stime + cutime + cstime


def others_share(before: tuple[int, int], after: tuple[int, int], seconds: float, n_cores: int,
                 tick: int) -> float:
    """The share of ``n_cores`` that processes other than this one kept busy over ``seconds``, in [0, 1], from
    two :func:`cpu_jiffies` readings ``tick`` jiffies a second apart. Tick rounding can push it a little past
    either end, hence the clip."""
    other_jiffies = (after[0] - before[0]) - (after[1] - before[1])
    return min(1.0, max(0.0, other_jiffies / tick / (seconds * n_cores)))


class LoadMeter:
    """Measures the share of the cores other processes used between :meth:`start` and :meth:`stop`.

    A child process counts as this process's own once it has been waited for (its time is in ``cutime``);
    one still running, like any other process, counts as others.

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
            self.others = others_share(self.before, after, elapsed, cores(), os.sysconf("SC_CLK_TCK"))
        return self.others

    def line(self) -> str:
        """One line for the report: others' share and the load averages before and after."""
        if self.others is None:
            return "other processes' share of the cores: not measured (no /proc)"
        return (f"other processes used {self.others:.0%} of the machine's {cores()} cores during the timed runs "
                f"(load average {self.load_before} before, {self.load_after} after)")

    def record(self) -> dict[str, Any]:
        """What a JSON report keeps of the meter: others' share and the load averages."""
        return {"others": self.others, "load_average_before": self.load_before,
                "load_average_after": self.load_after}


def verdict(met: bool, others: float | None) -> str:
    """``MET`` or ``MISSED``, or ``inconclusive: ...`` when other processes used more than 15% of the cores."""
    if others is not None and others > NOISY:
        return f"inconclusive: other processes used {others:.0%} of the cores"
    return "MET" if met else "MISSED"


class Timings(NamedTuple):
    """What :func:`time_interleaved` measured, per variant name; times in seconds, already scaled."""

    first: dict[str, float]  # the first call, compilation included
    times: dict[str, list[float]]  # the repeats after it
    median: dict[str, float]  # the steady state: median of the repeats
    results: dict[str, Any]  # what each variant's last call returned
    first_load: LoadMeter  # over the first calls
    load: LoadMeter  # over the repeats


def time_interleaved(runs: Mapping[str, Callable[[], Any]], repeats: int, scale: Mapping[str, float] | None = None,
                     progress: Callable[[str], None] | None = None) -> Timings:
    """Times each variant's first call on its own, then ``repeats`` calls of all of them round-robin, so that a
    change in background load hits every variant alike; a :class:`LoadMeter` runs over each phase.

    ``scale[name]`` is how many times the work of one call that variant's full job is (a sequential variant
    timed on a few of its runs): its repeats are multiplied by it, and its first call counts its one-time cost
    (compilation) once: ``first + (scale - 1) * steady``, both unscaled. ``progress`` gets a line after each
    first call (long runs show they are alive).
    """
    first, times, results = {}, {name: [] for name in runs}, {}
    first_load = LoadMeter().start()
    for name, run in runs.items():
        start = time.perf_counter()
        results[name] = run()
        first[name] = time.perf_counter() - start
        if progress:
            progress(f"first call {name}: {first[name]:.2f} s")
    first_load.stop()
    load = LoadMeter().start()
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    load.stop()
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, s in (scale or {}).items():
        if name in runs:
            first[name] += (s - 1) * median[name]
            times[name], median[name] = [t * s for t in times[name]], median[name] * s
    return Timings(first, times, median, results, first_load, load)
