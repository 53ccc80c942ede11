"""What a simulator run is asked for: rate, surge, noise, and an anomaly to inject (a step's conversion drop
in one channel from a moment on). Validated here, so a wrong flag fails before any event is made."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from ecc import timeutil
from ecc.contract import catalogue


@dataclass(frozen=True)
class Anomaly:
    """From `from_ms` on, leads of `channel` who complete `step` go on to step+1 `factor` times as often,
    so metrics' step_conversion[step] = reach[step+1] / reach[step] drops by that factor."""

    step: int
    channel: str
    factor: float = 0.5
    from_ms: int | None = None  # None: from the start

    def __post_init__(self) -> None:
        if not 1 <= self.step <= 10:
            raise ValueError(f"anomaly: step must be 1..10 (the conversion from step k to k+1), "
                             f"got {self.step}")
        if self.channel not in catalogue.CHANNELS:
            raise ValueError(f"anomaly: unknown channel {self.channel!r} "
                             f"(use {', '.join(catalogue.CHANNELS)})")
        if not 0 <= self.factor <= 1:
            raise ValueError(f"anomaly: factor must be between 0 and 1, got {self.factor}")


def parse_anomaly(spec: str) -> Anomaly:
    """`step=8,channel=douyin,factor=0.5,from=2026-11-21T10:00:00+08:00` (factor and from optional)."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or key not in ("step", "channel", "factor", "from"):
            raise ValueError(f"anomaly: expected key=value with keys step, channel, factor, from; "
                             f"got {part!r}")
        fields[key] = value
    if "step" not in fields or "channel" not in fields:
        raise ValueError(f"anomaly: step= and channel= are required, got {spec!r}")
    try:
        step, factor = int(fields["step"]), float(fields.get("factor", "0.5"))
    except ValueError:
        raise ValueError(f"anomaly: step must be an integer and factor a number, got {spec!r}") from None
    start = fields.get("from")
    from_ms = None if start is None else int(timeutil.parse_instant(start, "anomaly from").timestamp() * 1000)
    return Anomaly(step, fields["channel"], factor, from_ms)


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    rate: float = 200.0  # average distinct valid events/s over a weekday (weekends: WEEKEND_LEVEL of it)
    surge: float = 1.0  # multiplies the lead rate, hence every event rate; 10 = a surge
    surge_from: datetime | str | None = None  # the surge applies from this instant (None: always)
    anomaly: Anomaly | str | None = None  # an Anomaly or its spec (see parse_anomaly)
    duplicates: float = 0.0  # fraction of events re-sent 1 s..10 min later, same event_id and content
    late: float = 0.0  # fraction of events emitted 1..30 min after their ts
    bad: float = 0.0  # malformed raw lines added, as a fraction of events
    run_id: str | None = None  # id namespace; default from seed and start, so restarts do not collide

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.surge > 0):
            raise ValueError(f"rate and surge must be > 0, got rate={self.rate}, surge={self.surge}")
        for name in ("duplicates", "late", "bad"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a fraction 0..1, got {getattr(self, name)}")
        if self.run_id is not None and not re.fullmatch(r"[A-Za-z0-9_]{0,40}", self.run_id):
            raise ValueError(f"run_id must be 0..40 letters, digits or _, got {self.run_id!r}")
        if isinstance(self.anomaly, str):
            object.__setattr__(self, "anomaly", parse_anomaly(self.anomaly))
        if isinstance(self.surge_from, str):
            object.__setattr__(self, "surge_from", timeutil.parse_instant(self.surge_from, "surge_from"))
        if self.surge_from is not None and self.surge_from.tzinfo is None:
            raise ValueError("surge_from needs a UTC offset")
