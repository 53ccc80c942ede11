"""What the wall shows beside the live snapshot: comparisons, baselines, provinces and alerts.

The live store (Redis) keeps several days of counters, but only whole-day totals per day and minute
series for leads, opened and deposits: it cannot say how many leads had been *dialed* by this time
yesterday, nor first deposits or net inflow up to the same time, nor the funnel's conversion at the same
hours of recent days. ClickHouse can, through the very functions behind `/api/v1/kpis`, `/series` and
`/assets` (ecc.olap.analytics), so the wall's comparisons are the API's numbers by construction.

Cost: one set of queries per minute, not per refresh. The comparison windows end at the current minute
(`cut`, floored), so every answer of a minute is the same; it is computed once in a background thread and
shared through the answer cache (Redis) with the other web workers. Every refresh (1 s) reads the last
answer from memory and never waits on ClickHouse. Alerts come from the metadata database every few
seconds (`ecc.alerts.store.list_alerts`, guarded: the module may not exist yet).

The context is merged into the snapshot under "context" (`with_context`), so the screens' views remain
pure functions of one dict.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ecc import timeutil
from ecc.timeutil import TZ

log = logging.getLogger(__name__)

COMPARE_KEYS = ("leads", "dial_rate", "opened", "open_rate", "first_deposits", "deposit_amount",
                "net_inflow")
SHIFTS = {"previous_day": 1, "previous_week": 7}
BASELINE_DAYS = 7
BASELINE_EVERY_MIN = 5
ALERTS_EVERY_S = 5.0
CACHE_TTL_S = 120.0  # longer than a minute: the next minute's key replaces it anyway


def minute_cut(now: datetime) -> datetime:
    """The instant the comparisons are cut at: `now` in Shanghai, floored to the minute."""
    return now.astimezone(TZ).replace(second=0, microsecond=0)


def baseline_cut(now: datetime) -> datetime:
    """The funnel baseline's cut: `now` floored to BASELINE_EVERY (a baseline of the same hours moves
    little within minutes, and it costs seven queries)."""
    cut = minute_cut(now)
    return cut.replace(minute=cut.minute - cut.minute % BASELINE_EVERY_MIN)


def shifted_window(cut: datetime, days: int) -> tuple[datetime, datetime]:
    """[that day's 00:00, the same time of day) `days` before the day of `cut` (Shanghai)."""
    day = cut.date() - timedelta(days=days)
    start = timeutil.day_start(day)
    return start, start + (cut - timeutil.day_start(cut.date()))


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def funnel_baseline(days: list[Mapping], min_reach: int) -> dict:
    """Per step k (1..10), the median over `days` (each a /kpis answer) of step_conversion[k], counting
    only days whose reach[k] is at least `min_reach` (a day with 3 leads at a step says nothing)."""
    out: dict[str, dict] = {}
    for k in range(1, 11):
        values = []
        for kpis in days:
            reach = (kpis.get("reach") or {}).get(str(k)) or 0
            conv = (kpis.get("step_conversion") or {}).get(str(k))
            if conv is not None and reach >= min_reach:
                values.append(float(conv))
        out[str(k)] = {"median": median_or_none(values), "days": len(values)}
    return out


def series_pairs(points: list[Mapping]) -> list[list]:
    """API series points [{"t": ISO, "value": n}] as [["HH:MM" of the compared (today's) minute, n]]."""
    pairs = []
    for point in points:
        moment = datetime.fromisoformat(point["t"]).astimezone(TZ)
        pairs.append([moment.strftime("%H:%M"), point["value"]])
    return pairs


def compute_minute(ch, now: datetime) -> dict:
    """The part of the context that moves every minute: KPIs at the same time yesterday and last week,
    the trend's companions, the assets breakdown (the API's functions, with the API's arguments)."""
    from ecc.olap import analytics, timeseries

    cut = minute_cut(now)
    today = timeutil.day_start(cut.date())
    out: dict = {"cut": cut.isoformat(), "compare": {}, "trend": {}, "assets": None}
    fresh = analytics.freshness_s(ch, now)  # first: the numbers below include at least these events
    out["newest_ms"] = None if fresh is None else int(now.timestamp() * 1000 - fresh * 1000)
    assets = analytics.assets(ch, now)
    out["assets"] = {key: assets.get(key)
                     for key in ("at", "total", "by_class", "by_province", "by_level", "by_segment")}
    if cut <= today:  # 00:00: no time of day to compare yet
        return out
    for name, shift in SHIFTS.items():
        start, end = shifted_window(cut, shift)
        kpis = analytics.kpis(ch, start, end, now=now)
        out["compare"][name] = {"from": start.isoformat(), "to": end.isoformat(),
                                "kpis": {key: kpis.get(key) for key in COMPARE_KEYS}}
    series = timeseries.series(ch, "leads", "1m", today, cut)
    out["trend"] = {name: series_pairs(series[name]) for name in SHIFTS}
    return out


def compute_baseline(ch, now: datetime, min_reach: int = 20) -> dict:
    """The funnel's baseline: step conversion over the same hours (00:00 to the time of `now`, cut at
    BASELINE_EVERY) on each of the last BASELINE_DAYS days; seven /kpis answers, so it moves slowly."""
    from ecc.olap import analytics

    cut = baseline_cut(now)
    if cut <= timeutil.day_start(cut.date()):
        return {"cut": cut.isoformat(), "days": 0, "min_reach": min_reach, "steps": {}}
    days = []
    for shift in range(1, BASELINE_DAYS + 1):
        start, end = shifted_window(cut, shift)
        days.append(analytics.kpis(ch, start, end, now=now))
    return {"cut": cut.isoformat(), "days": BASELINE_DAYS, "min_reach": min_reach,
            "steps": funnel_baseline(days, min_reach)}


def compute_context(ch, now: datetime, min_reach: int = 20) -> dict:
    """The whole ClickHouse part of the context at `now` (what WallContext computes in two paces)."""
    return {**compute_minute(ch, now), "baseline": compute_baseline(ch, now, min_reach)}


def load_alerts(meta) -> list[dict] | None:
    """Today's alerts in the API's shape, or None while the alerts module does not exist (yet)."""
    try:
        from ecc.alerts.store import list_alerts
    except ImportError:
        return None
    return list_alerts(meta, states=None, day=None)


class WallContext:
    """The last context computed, refreshed in the background once a minute (alerts every few seconds).

    `get()` never waits on ClickHouse: the first refresh of a minute starts a thread and returns the
    previous minute's answer meanwhile (an empty one at start-up)."""

    def __init__(self, ch, meta=None, answers=None, clock: Callable[[], datetime] | None = None,
                 min_reach: int = 20, alerts_every_s: float = ALERTS_EVERY_S):
        self.ch, self.meta, self.answers = ch, meta, answers
        self.clock = clock or (lambda: datetime.now(TZ))
        self.min_reach = min_reach
        self.alerts_every_s = alerts_every_s
        self._lock = threading.Lock()
        self._data: dict = {}
        self._cut: datetime | None = None
        self._busy = False
        self._alerts: list[dict] | None = None
        self._alerts_at = 0.0
        self._alerts_busy = False
        self.alerts_read_ms: int | None = None  # epoch ms of the last successful read (the watermark's)
        self._baseline: tuple[str, dict] = ("", {})
        self.computed = 0  # ClickHouse computations this process ran (tests read it)

    @classmethod
    def for_services(cls, services) -> WallContext:
        return cls(services.ch, services.meta, services.answers)

    def get(self) -> dict:
        now = self.clock()
        cut = minute_cut(now)
        with self._lock:
            start = self._cut != cut and not self._busy
            if start:
                self._busy = True
            data = self._data
        if start:
            threading.Thread(target=self._refresh_quietly, args=(cut, now), daemon=True,
                             name="wall-context").start()
        return {**data, "alerts": self._current_alerts()}

    def refresh(self, now: datetime | None = None) -> dict:
        """Compute (or read from the shared cache) the context of `now`'s minute and the alerts, now;
        returns it."""
        now = now or self.clock()
        cut = minute_cut(now)
        with self._lock:
            self._busy = True
        self._refresh_quietly(cut, now)
        if self.meta is not None:
            self._read_alerts()
            self._alerts_at = time.monotonic()
        return self.get()

    def _refresh_quietly(self, cut: datetime, now: datetime) -> None:
        try:
            data = self._compute(cut, now)
            with self._lock:
                self._data, self._cut = data, cut
        except Exception:  # ClickHouse down or a query failing: keep the last context, try next minute
            log.exception("wall context for %s not computed; the last one stays", cut.isoformat())
            with self._lock:
                self._cut = cut
        finally:
            with self._lock:
                self._busy = False

    def _compute(self, cut: datetime, now: datetime) -> dict:
        minute = self._shared(f"wall-context:{cut.isoformat()}", lambda: compute_minute(self.ch, now))
        base_key = f"wall-baseline:{baseline_cut(now).isoformat()}:{self.min_reach}"
        if self._baseline[0] != base_key:
            self._baseline = (base_key, self._shared(base_key,
                                                     lambda: compute_baseline(self.ch, now, self.min_reach)))
        return {**minute, "baseline": self._baseline[1]}

    def _shared(self, key: str, compute: Callable[[], dict]) -> dict:
        """`compute()` once for every web worker (the answer cache), or here when there is none."""
        def run() -> str:
            from ecc.web.api import jsonable

            self.computed += 1
            return json.dumps(jsonable(compute()), ensure_ascii=False)
        if self.answers is None:
            return json.loads(run())
        return json.loads(self.answers.get(key, CACHE_TTL_S + BASELINE_EVERY_MIN * 60, run))

    def _current_alerts(self) -> list[dict] | None:
        """The last alerts read; a read older than `alerts_every_s` starts the next one in the background
        (a metadata database busy with the evaluator's writes must not hold up a refresh)."""
        if self.meta is None:
            return None
        with self._lock:
            due = time.monotonic() - self._alerts_at >= self.alerts_every_s and not self._alerts_busy
            if due:
                self._alerts_busy = True
                self._alerts_at = time.monotonic()
        if due:
            threading.Thread(target=self._read_alerts, daemon=True, name="wall-alerts").start()
        return self._alerts

    def _read_alerts(self) -> None:
        try:
            started = int(time.time() * 1000)
            self._alerts = load_alerts(self.meta)
            self.alerts_read_ms = started
        except Exception:  # the table may not be migrated yet, or the database blips
            log.warning("alerts not read for the wall", exc_info=True)
        finally:
            with self._lock:
                self._alerts_busy = False


def with_context(provider: Callable[[], Mapping | None],
                 context: WallContext) -> Callable[[], Mapping | None]:
    """The snapshot provider with the wall context under "context" (not on an error snapshot), and when
    the alerts were last read under "alerts_read_ms" (out of the context: it moves every few seconds)."""
    def provide() -> Mapping | None:
        snapshot = provider()
        if not isinstance(snapshot, Mapping) or snapshot.get("error"):
            return snapshot
        return {**snapshot, "context": context.get(), "alerts_read_ms": context.alerts_read_ms}
    return provide
