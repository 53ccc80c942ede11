"""The simulator's output as upstream systems put it on the wire: Shanghai timestamps and JSON lines.

Below both `simulate` (which schedules the events) and `sim_noise` (which breaks some of them the
way faulty producers do), so that neither imports the other.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache

from ecc.sim.sim_model import UTC8

Item = dict | str  # an event object, or a malformed raw line (the `bad` option)
_MILLIS = tuple(f".{ms:03d}+08:00" for ms in range(1000))


@lru_cache(maxsize=4096)  # events come in time order, so one second's prefix serves many events
def _second_prefix(second: int) -> str:
    local_day, rem = divmod(second + UTC8 // 1000, 86_400)
    day_text = date.fromordinal(719163 + local_day).isoformat()  # 719163 = ordinal of 1970-01-01
    return f"{day_text}T{rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}"


def iso(ts_ms: int) -> str:
    """ts as upstream writes it: Shanghai local time, milliseconds, +08:00."""
    return _second_prefix(ts_ms // 1000) + _MILLIS[ts_ms % 1000]


def is_bad(item: Item) -> bool:
    """Malformed inputs are raw lines (str); valid events are dicts."""
    return isinstance(item, str)


def to_line(item: Item | list) -> str:
    """One JSON Lines line (without the newline): events as compact JSON, Chinese kept as it is."""
    if isinstance(item, str):
        return item
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))
