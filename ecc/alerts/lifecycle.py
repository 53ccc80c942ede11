"""Alert lifecycle, pure: pending -> firing -> resolved for one (rule, channel, step) (docs/alerts.md).

`advance(tracked, verdict, now, params, silenced)` returns the alert's next state and the transition to
announce, if any: "firing" (first announcement, also when a silence ends over a firing alert that was
never announced), "repeat" (still firing, not acknowledged, `repeat_minutes` since the last notice) or
"resolved" (only for an alert that was announced). The evaluator stores the state and groups the
announcements of one evaluation into one notification per transition.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ecc.alerts.detect import Verdict

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"


@dataclass(frozen=True)
class Tracked:
    state: str
    started_at: datetime  # first evaluation that found the breach
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    clear_since: datetime | None = None  # recovered since (hysteresis before resolving)
    notified_at: datetime | None = None  # last announcement (firing or repeat)
    acked: bool = False
    silenced: bool = False
    observed: float | None = None
    baseline: float | None = None
    sample: int | None = None
    p_value: float | None = None


def _evidence(tracked: Tracked, verdict: Verdict) -> Tracked:
    if not verdict.known and verdict.observed is None:
        return tracked
    return replace(tracked, observed=verdict.observed, baseline=verdict.baseline, sample=verdict.sample,
                   p_value=verdict.p_value)


def advance(tracked: Tracked | None, verdict: Verdict, now: datetime, params: dict,
            silenced: bool) -> tuple[Tracked | None, str | None]:
    """(next state or None when a pending alert is dropped, transition or None)."""
    pending_for = timedelta(seconds=params["pending_s"])
    if tracked is None or tracked.state == RESOLVED:
        if not verdict.breach:
            return tracked, None
        tracked = _evidence(Tracked(PENDING, started_at=now, silenced=silenced), verdict)
        if pending_for.total_seconds() > 0:
            return tracked, None
    tracked = replace(_evidence(tracked, verdict), silenced=silenced)
    if tracked.state == PENDING:
        if not verdict.breach:
            return None, None  # never fired: nothing to resolve or announce
        if now - tracked.started_at < pending_for:
            return tracked, None
        fired = replace(tracked, state=FIRING, fired_at=now)
        return (fired, None) if silenced else (replace(fired, notified_at=now), "firing")
    # firing
    if verdict.breach or (verdict.known and not verdict.recovered):
        tracked = replace(tracked, clear_since=None)
    elif verdict.recovered:
        since = tracked.clear_since or now
        tracked = replace(tracked, clear_since=since)
        if now - since >= timedelta(seconds=params["resolve_s"]):
            done = replace(tracked, state=RESOLVED, resolved_at=now)
            return done, ("resolved" if tracked.notified_at is not None else None)
        return tracked, None
    if silenced:
        return tracked, None
    if tracked.notified_at is None:
        return replace(tracked, notified_at=now), "firing"
    if not tracked.acked and now - tracked.notified_at >= timedelta(minutes=params["repeat_minutes"]):
        return replace(tracked, notified_at=now), "repeat"
    return tracked, None
