"""The demo's history: which days before today to simulate, in which order, and what a data directory
already holds (pure logic and one small JSON file; publishing is `ecc.sim.history_cli`'s).

`ecc demo` shows yesterday, the same day last week and the asset stock for real, so it loads the
`days` days before today once per data directory, beside a live stream that starts at today's midnight.

Why one simulator per day (each starting WARMUP_HOURS before its midnight, as `simulate.day` does): a day
is then a pure function of (seed, rate, day). Republishing a day that was only partly stored (the embedded
broker keeps messages in memory only, so a demo stopped mid-load loses what the sink had not yet taken)
regenerates the very same event_ids, and the sink and the live store drop what they already hold: a
restart never counts a day twice. It also lets the days go in the order the wall needs them (yesterday and
the same day last week first, for 同比/环比) instead of oldest first. The cost: journeys that cross a
midnight are cut there, as in any one-day file (the next day starts with the warm-up's journeys in flight
instead), so a few deposits of accounts opened just before a midnight have no channel.

The marker file (MARKER in the data directory) records the seed, the rate, the days known to be stored
(checked against ClickHouse through the API after publishing) and the days a live simulator backfilled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ecc.sim import simulate

MARKER = "demo-history.json"
WARMUP_HOURS = 3.0
EPOCH_DAY = date(2000, 1, 1)


def wanted_days(today: date, days: int) -> list[date]:
    """The `days` days before today, in the order the wall needs them: yesterday, the same day last week,
    then the others from the most recent."""
    before = [today - timedelta(days=n) for n in range(1, days + 1)]
    first = [d for d in (today - timedelta(days=1), today - timedelta(days=7)) if d in before]
    return first + [d for d in before if d not in first]


def day_config(seed: int, day: date, rate: float) -> simulate.SimConfig:
    """The simulator of one history day: its own random stream and id namespace, the same every time."""
    return simulate.SimConfig(seed=seed * 100_000 + (day - EPOCH_DAY).days, rate=rate,
                              run_id=f"h{seed % 1_000_000}d{day:%Y%m%d}")


def day_items(seed: int, day: date, rate: float):
    """The day's raw events, in emission order (an iterator)."""
    return simulate.day(day, day_config(seed, day, rate), warmup_hours=WARMUP_HOURS)


@dataclass
class Marker:
    """What a data directory holds of the demo's simulated days."""

    path: Path
    seed: int
    rate: float
    stored: set[str] = field(default_factory=set)  # history days found complete in ClickHouse
    live: set[str] = field(default_factory=set)  # days a live simulator backfilled from midnight

    @classmethod
    def load(cls, data_dir: Path, seed: int, rate: float) -> Marker:
        """The data directory's marker (its seed kept, so that a day is regenerated identically), or a
        new one with this seed. Days still missing are simulated at `rate`, the live simulator's, so that
        the comparisons compare like with like; a day left half-stored by a run at another rate would be
        completed with other events (a corner not worth a second seed)."""
        path = Path(data_dir) / MARKER
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return cls(path, int(body["seed"]), rate, set(body.get("stored", [])), set(body.get("live", [])))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path, seed, rate)

    def missing(self, today: date, days: int) -> list[date]:
        """History days still to load, in the order of `wanted_days`: neither stored nor live-backfilled."""
        return [d for d in wanted_days(today, days) if d.isoformat() not in self.stored | self.live]

    def save(self) -> None:
        body = {"seed": self.seed, "rate": self.rate, "stored": sorted(self.stored),
                "live": sorted(self.live)}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old marker or the new one


def live_backfill_minutes(marker: Marker, today: date, minutes_since_midnight: float) -> float:
    """A live simulator backfills today from midnight once per data directory; a restarted demo goes on
    from now (backfilling again would add a second copy of the morning under new ids)."""
    return 0.0 if today.isoformat() in marker.live else minutes_since_midnight
