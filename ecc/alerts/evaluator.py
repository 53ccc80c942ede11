"""The evaluator: every rule at `now`, the lifecycle of every (rule, channel, step), grouped notices.

`Evaluator.evaluate(now)` is one evaluation at an event-time instant (the live loop passes the wall
clock minus `SETTLE`, the benchmark and the tests replay days by passing their own instants). Order:
no_data rules first, because a firing no_data alert of a source holds the rules that read that source
(inhibition: their alerts are frozen, neither fired nor resolved); then every other rule that is not
muted. A rule whose evaluation raises is logged and skipped; the others go on. The new states are
written in one transaction, then each transition's alerts go to notifications as ONE group.

`EvaluatorThread` runs it every `interval` seconds in the process that holds the Redis lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecc.alerts import detect, rules, store
from ecc.alerts.data import AlertData
from ecc.alerts.detect import Share, Verdict
from ecc.alerts.lifecycle import FIRING, PENDING, RESOLVED, Tracked, advance
from ecc.alerts.models import Alert

log = logging.getLogger(__name__)

INTERVAL_S = 10.0
# The live evaluation looks at event time this far behind the wall clock: what the sink has not yet
# written would read as missing conversions in the newest seconds of the window.
SETTLE = timedelta(seconds=15)

Notify = Callable[[list[dict], str], None]


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def active_key(rule_id: int, channel: str | None, step: int | None) -> str:
    return f"{rule_id}:{channel or '*'}:{step or '*'}"


def _tracked(a: Alert) -> Tracked:
    return Tracked(a.state, _dt(a.started_ms), _dt(a.fired_ms), _dt(a.resolved_ms), _dt(a.clear_since_ms),
                   _dt(a.notified_ms), a.acked_by is not None, bool(a.silenced), a.observed, a.baseline,
                   a.sample, a.p_value)


def _write(a: Alert, t: Tracked) -> None:
    a.state, a.started_ms, a.fired_ms = t.state, _ms(t.started_at), _ms(t.fired_at)
    a.resolved_ms, a.clear_since_ms = _ms(t.resolved_at), _ms(t.clear_since)
    a.notified_ms, a.silenced = _ms(t.notified_at), t.silenced
    a.observed, a.baseline, a.sample, a.p_value = t.observed, t.baseline, t.sample, t.p_value
    if t.state == RESOLVED:
        a.active_key = None


@dataclass
class Outcome:
    """What one evaluation did: transitions handed to notifications and the rules that failed."""

    groups: dict[str, list[dict]] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)
    inhibited_sources: set[str] = field(default_factory=set)


class Evaluator:
    def __init__(self, engine, ch, settings=None, *, notify: Notify | None = None, holiday=None,
                 watching_since: datetime | None = None):
        self.engine, self.settings, self.holiday = engine, settings, holiday
        # Silence is counted from the newest event or from when this evaluator began to watch, whichever
        # is later: a process that starts (a fresh demo whose today has not reached ClickHouse yet) or takes
        # over the lease calls no time a silence that it did not see. None: the first evaluation's `now`.
        self.watching_since = watching_since
        self.data = AlertData(ch)
        self._notify = notify if notify is not None else self._submit

    # ---- notifications ----

    def _submit(self, group: list[dict], transition: str) -> None:
        try:
            from ecc.alerts.notify import submit
        except ImportError:  # notifications not installed: the lifecycle goes on without them
            log.warning("alerts: %d %s, no notifier available", len(group), transition)
            return
        submit(self.engine, self.settings, group, transition)

    # ---- one evaluation ----

    def evaluate(self, now: datetime) -> Outcome:
        outcome = Outcome()
        if self.watching_since is None:
            self.watching_since = now
        all_rules = store.list_rules(self.engine, enabled_only=True)
        silences = store.active_silences(self.engine, _ms(now))
        changed: list[tuple[str, Alert]] = []
        with Session(self.engine) as session, session.begin():
            query = select(Alert).where(Alert.active_key.is_not(None))
            open_alerts = {a.active_key: a for a in session.scalars(query)}
            ordered = sorted(all_rules, key=lambda r: r["kind"] != "no_data")  # no_data first
            for rule in ordered:
                if rules.is_muted(rule["params"], now, self.holiday):
                    continue
                if set(rules.SOURCES_OF[rule["kind"]]) & outcome.inhibited_sources:
                    continue  # held behind a firing no_data alert of its source
                try:
                    verdicts = self._verdicts(rule, now)
                except Exception:
                    log.exception("alert rule %s (%s) failed; the other rules go on",
                                  rule["id"], rule["kind"])
                    outcome.failed.append(rule["id"])
                    continue
                mine = {k: a for k, a in open_alerts.items() if a.rule_id == rule["id"]}
                for a in mine.values():  # an open alert whose scope has no data now is still judged
                    verdicts.setdefault((a.channel, a.step), detect.UNKNOWN)
                for (channel, step), verdict in verdicts.items():
                    key = active_key(rule["id"], channel, step)
                    row = open_alerts.get(key)
                    silenced = store.is_silenced(silences, rule["kind"], channel, step)
                    before = _tracked(row) if row is not None else None
                    after, transition = advance(before, verdict, now, rule["params"], silenced)
                    if after is None:
                        if row is not None:
                            session.delete(row)
                        continue
                    if after == before:
                        continue
                    if row is None:
                        row = Alert(rule_id=rule["id"], kind=rule["kind"], channel=channel, step=step,
                                    active_key=key, window_ms=self._window_ms(rule), acked_by=None)
                        session.add(row)
                        open_alerts[key] = row
                    _write(row, after)
                    if transition:
                        changed.append((transition, row))
                if rule["kind"] == "no_data":
                    for a in open_alerts.values():
                        if a.rule_id == rule["id"] and a.state == FIRING:
                            outcome.inhibited_sources.add(rule["params"]["source"])
            session.flush()
            for transition, row in changed:
                outcome.groups.setdefault(transition, []).append(store.alert_dict(row))
        for transition, group in outcome.groups.items():
            try:
                self._notify(group, transition)
            except Exception:
                log.exception("alerts: handing %d %s alert(s) to notifications failed",
                              len(group), transition)
        return outcome

    @staticmethod
    def _window_ms(rule: dict) -> int:
        return int(rule["params"].get("window_minutes", 0)) * 60_000

    # ---- verdicts per kind ----

    def _verdicts(self, rule: dict, now: datetime) -> dict[tuple[str | None, int | None], Verdict]:
        kind, p = rule["kind"], rule["params"]
        if kind == "no_data":
            newest = self.data.freshness(now).get(p["source"])
            since = _ms(min(self.watching_since or now, now))
            return {(None, None): detect.no_data(max(newest or 0, since), now, p)}
        width = timedelta(minutes=p["window_minutes"])
        if kind == "dial_rate_low":
            end = now - timedelta(minutes=p["age_minutes"])
            counts = self._by_scope(rule, self._lead_scopes(self.data.leads(end - width, end, now)))
            return {scope: detect.dial_rate_low(Share(d, n), p) for scope, (n, d) in counts.items()}
        # Baseline windows from before the first stored event are not baselines: in its first week an
        # installation compares with the days it has (or none), never with empty days.
        first, windows = self.data.first_stored(now), detect.windows_of(p)
        ends = [_minute(e) for e in detect.baseline_ends(p, now)
                if first is not None and _minute(e) - timedelta(minutes=windows[-1]) >= first]
        if kind in ("lead_volume_drop", "lead_volume_spike"):
            current = self._by_scope(rule, self._lead_scopes(self.data.leads(now - width, now, now)))
            past = [self._by_scope(rule, self._lead_scopes(self.data.leads(e - width, e, e))) for e in ends]
            direction = "drop" if kind == "lead_volume_drop" else "spike"
            scopes = set(current) | {s for b in past for s in b}
            return {s: detect.volume_change(current.get(s, (0, 0))[0], [b.get(s, (0, 0))[0] for b in past], p,
                                            direction) for s in scopes}
        # Step kinds. The window ends at the newest step event when that is older than `now`: leads of a
        # stream that paused (or that the sink has not written yet) have not "failed to convert", they
        # are not known yet. A real outage is the no_data rule's (which then holds this one).
        newest = self.data.freshness(now).get("step")
        if newest is None:
            return {}
        end = min(now, datetime.fromtimestamp(newest / 1000, tz=UTC) + timedelta(milliseconds=1))
        current = self._step_shares(rule, self.data.step_ages(end, windows[-1]))
        baseline: dict = {}  # the baseline windows summed, age by age (each ends where the window ends)
        for e in ends:
            for key, share in self._step_shares(rule, self.data.step_ages(e, windows[-1])).items():
                baseline[key] = baseline.get(key, Share(0, 0)) + share
        judge = detect.conversion_drop if kind == "step_conversion_drop" else detect.reject_spike
        none = Share(0, 0)

        def strata(scope: tuple, minutes: int) -> list[tuple[Share, Share]]:  # ages 0..minutes-1
            return [(current.get((*scope, age), none), baseline.get((*scope, age), none))
                    for age in range(minutes)]
        return {scope: detect.scan(judge, [strata(scope, minutes) for minutes in windows], p)
                for scope in {key[:2] for key in (*current, *baseline)}}

    @staticmethod
    def _lead_scopes(counts: dict) -> dict:
        return {(channel, None): value for channel, value in counts.items()}

    @staticmethod
    def _step_shares(rule: dict, ages) -> dict:
        """Shares per (scope channel, step, age) for the rule: converted of entered, or rejects of attempts
        (entered + rejects); channels narrowed or summed as the rule's scope says (`_scope_of`)."""
        kind, steps = rule["kind"], set(rules.steps_of(rule["kind"], rule["step"]))
        out: dict = {}
        for (channel, step, age), (entered, converted, rejects) in ages.items():
            scope = Evaluator._scope_of(rule, channel)
            if step not in steps or scope is False:
                continue
            share = Share(converted, entered) if kind == "step_conversion_drop" \
                else Share(rejects, entered + rejects)
            key = (scope, step, age)
            out[key] = out.get(key, Share(0, 0)) + share
        return out

    @staticmethod
    def _scope_of(rule: dict, channel: str):
        """The channel an alert of this rule is keyed by: the channel itself, None when the rule sums all
        channels, False when the rule does not watch that channel."""
        if rule["channel"] is not None:
            return channel if channel == rule["channel"] else False
        return channel if rule["params"].get("per_channel", True) else None

    @staticmethod
    def _by_scope(rule: dict, values: dict) -> dict:
        """Counts keyed by (channel, step) narrowed to the rule's channel, or summed over channels when
        the rule watches all channels together (`_scope_of`)."""
        out: dict = {}
        for (channel, step), value in values.items():
            scope = Evaluator._scope_of(rule, channel)
            if scope is False:
                continue
            old = out.get((scope, step))
            out[(scope, step)] = value if old is None else tuple(map(sum, zip(old, value, strict=True)))
        return out


class EvaluatorThread(threading.Thread):
    """Evaluates every `interval` seconds while this process holds the lease (ecc.alerts.lease)."""

    def __init__(self, evaluator: Evaluator, lease, interval: float = INTERVAL_S,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        super().__init__(name="ecc-alerts", daemon=True)
        self.evaluator, self.lease, self.interval, self.clock = evaluator, lease, interval, clock
        self.stopping = threading.Event()
        self.evaluations = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                if self.lease.hold():
                    self.evaluator.evaluate(self.clock() - SETTLE)
                    self.evaluations += 1
            except Exception:  # Redis or the metadata DB away: try again next round
                log.exception("alert evaluation failed; retrying in %.0f s", self.interval)
            self.stopping.wait(max(0.5, self.interval - (time.monotonic() - started)))
        try:
            self.lease.release()
        except Exception:
            log.debug("could not release the evaluator lease", exc_info=True)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.join(timeout)


def start(services) -> EvaluatorThread | None:
    """Start the evaluator of a web process (ecc.services): defaults first, then the thread. Every web
    process starts one; the lease lets exactly one of them evaluate at a time."""
    from ecc import calendar
    from ecc.alerts.lease import Lease

    store.ensure_defaults(services.meta)
    evaluator = Evaluator(services.meta, services.ch, services.settings, holiday=calendar.public_holiday)
    thread = EvaluatorThread(evaluator, Lease(services.live.r))
    thread.start()
    log.info("alert evaluator started (every %.0f s while this process holds the lease)", thread.interval)
    return thread


__all__ = ["INTERVAL_S", "PENDING", "SETTLE", "Evaluator", "EvaluatorThread", "Outcome", "start"]
