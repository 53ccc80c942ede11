"""Shared by the benchmark scripts: percentiles, plain-text tables, and a note of the machine's load.

The scripts are run as files (`.venv/bin/python bench/<name>.py`), which puts this folder on sys.path.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("bench")


def pct(values: list[float], q: float) -> float:
    """The q-quantile with linear interpolation between order statistics (numpy's default)."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()
    return "\n".join([title, line(header), line(["-" * w for w in widths]), *map(line, rows)])


def load_average() -> float:
    """The 1-minute load average, with a warning when other processes already keep the cores busy:
    every figure here is shared-machine sensitive, so each report prints the load before and after."""
    load = os.getloadavg()[0]
    if load > 0.5:
        log.warning("load average %.2f: other processes are running and will distort the figures", load)
    return load


def machine_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (from /proc/stat): the difference
    over a measurement, minus what the measured processes used, is what *other* processes took."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system + irq softirq steal (not idle, iowait)
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process (all its threads: chDB's, the HTTP server's)."""
    t = os.times()
    return t.user + t.system
