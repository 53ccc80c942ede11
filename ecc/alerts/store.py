"""The alerts' side of the metadata DB: rules (with the defaults of first start), alerts, acks, silences.

Every public function takes the SQLAlchemy engine and returns plain dicts in the API's shape
(docs/api.md), so the API, the wall's ticker and banner and the alerts page read the same thing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session

from ecc import timeutil
from ecc.alerts import rules
from ecc.alerts.models import Alert, AlertRule, AlertSeed, Silence

ALERT_STATES = ("pending", "firing", "resolved")
_DRILL_MARGIN_MS = 30 * 60_000  # the drill-down link shows half an hour either side of the alert


def iso(ms: int | None) -> str | None:
    return None if ms is None else timeutil.to_local(ms).isoformat(timespec="seconds")


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---- rules ----

def rule_dict(rule: AlertRule) -> dict:
    return {"id": rule.id, "kind": rule.kind, "channel": rule.channel, "step": rule.step,
            "params": dict(rule.params), "enabled": bool(rule.enabled)}


def ensure_defaults(engine: Engine, now_ms: int | None = None) -> int:
    """Create the default rules not created before (rules.DEFAULT_RULES); admins' edits and deletions
    survive restarts because each default is created once, remembered in alert_seeds. Returns how many
    were created. Safe to call from several processes' start-up: a second insert of a seed key fails
    on its primary key and that process's transaction is simply dropped."""
    from sqlalchemy.exc import IntegrityError

    now = timeutil.now_ms() if now_ms is None else now_ms
    try:
        with Session(engine) as session, session.begin():
            seeded = set(session.scalars(select(AlertSeed.key)))
            created = 0
            for key, kind, channel, step, params in rules.DEFAULT_RULES:
                if key in seeded:
                    continue
                session.add(AlertSeed(key=key))
                session.add(AlertRule(kind=kind, channel=channel, step=step, enabled=True,
                                      params=rules.validate_params(kind, params),
                                      created_ms=now, updated_ms=now))
                created += 1
            return created
    except IntegrityError:
        return 0


def list_rules(engine: Engine, enabled_only: bool = False) -> list[dict]:
    with Session(engine) as session:
        query = select(AlertRule).order_by(AlertRule.id)
        if enabled_only:
            query = query.where(AlertRule.enabled.is_(True))
        return [rule_dict(r) for r in session.scalars(query)]


def create_rule(engine: Engine, body: dict) -> dict:
    if not isinstance(body, dict):
        raise rules.RuleError("the body must be a JSON object")
    kind = body.get("kind")
    params = rules.validate_params(kind, body.get("params", {}))
    channel, step = rules.validate_scope(kind, body.get("channel"), body.get("step"))
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise rules.RuleError("enabled must be true or false", {"field": "enabled"})
    now = timeutil.now_ms()
    with Session(engine) as session, session.begin():
        rule = AlertRule(kind=kind, channel=channel, step=step, params=params, enabled=enabled,
                         created_ms=now, updated_ms=now)
        session.add(rule)
        session.flush()
        return rule_dict(rule)


def update_rule(engine: Engine, rule_id: int, body: dict) -> dict | None:
    """PUT: the fields sent replace the stored ones; `params` are merged (a PUT may send only the params
    it changes). None when there is no such rule."""
    if not isinstance(body, dict):
        raise rules.RuleError("the body must be a JSON object")
    if "kind" in body:
        raise rules.RuleError("a rule's kind cannot change: delete it and create another", {"field": "kind"})
    with Session(engine) as session, session.begin():
        rule = session.get(AlertRule, rule_id)
        if rule is None:
            return None
        params = rules.validate_params(rule.kind, body.get("params", {}), base=dict(rule.params))
        channel, step = rules.validate_scope(rule.kind, body.get("channel", rule.channel),
                                             body.get("step", rule.step))
        enabled = body.get("enabled", rule.enabled)
        if not isinstance(enabled, bool):
            raise rules.RuleError("enabled must be true or false", {"field": "enabled"})
        rule.params, rule.channel, rule.step, rule.enabled = params, channel, step, enabled
        rule.updated_ms = timeutil.now_ms()
        if not enabled:
            _close_quietly(session, rule_id, rule.updated_ms)  # a disabled rule judges nothing any more
        return rule_dict(rule)


def _close_quietly(session: Session, rule_id: int, now_ms: int) -> None:
    """Resolve a rule's open alerts without a notice (the rule was disabled or deleted); history stays."""
    query = select(Alert).where(Alert.rule_id == rule_id, Alert.active_key.is_not(None))
    for alert in session.scalars(query):
        alert.state, alert.active_key, alert.resolved_ms = "resolved", None, now_ms


def delete_rule(engine: Engine, rule_id: int) -> bool:
    """Delete a rule; its open alerts are resolved quietly (their history stays)."""
    with Session(engine) as session, session.begin():
        rule = session.get(AlertRule, rule_id)
        if rule is None:
            return False
        _close_quietly(session, rule_id, timeutil.now_ms())
        session.delete(rule)
        return True


# ---- alerts ----

def drill_link(channel: str | None, step: int | None, started_ms: int, window_ms: int,
               resolved_ms: int | None) -> str:
    """The drill-down filtered to the alert's channel, step and time (H4's /drill parameters)."""
    query: dict[str, object] = {}
    if channel:
        query["channel"] = channel
    if step:
        query["step"] = step
    end = resolved_ms if resolved_ms is not None else started_ms
    query["from"] = iso(started_ms - window_ms - _DRILL_MARGIN_MS)
    query["to"] = iso(end + _DRILL_MARGIN_MS)
    return "/drill?" + urlencode(query)


def alert_dict(alert: Alert) -> dict:
    return {"id": alert.id, "rule_id": alert.rule_id, "kind": alert.kind, "channel": alert.channel,
            "step": alert.step, "state": alert.state, "started_at": iso(alert.started_ms),
            "fired_at": iso(alert.fired_ms), "resolved_at": iso(alert.resolved_ms),
            "observed": alert.observed, "baseline": alert.baseline, "sample": alert.sample,
            "p_value": alert.p_value, "acked_by": alert.acked_by, "silenced": bool(alert.silenced),
            "link": drill_link(alert.channel, alert.step, alert.started_ms, alert.window_ms,
                               alert.resolved_ms)}


def list_alerts(engine: Engine, states: list[str] | tuple[str, ...] | None = None,
                day: date | None = None) -> list[dict]:
    """Alerts in the API's shape, newest first: those pending or firing now (whenever they started)
    and those that started or resolved on `day` (Shanghai; default today), restricted to `states`."""
    day = day or timeutil.today()
    start = to_ms(timeutil.day_start(day))
    end = to_ms(timeutil.day_start(day + timedelta(days=1)))
    wanted = tuple(states) if states else ALERT_STATES
    with Session(engine) as session:
        query = (select(Alert).where(Alert.state.in_(wanted))
                 .where(or_(Alert.active_key.is_not(None),
                            Alert.started_ms.between(start, end - 1),
                            Alert.resolved_ms.between(start, end - 1)))
                 .order_by(Alert.started_ms.desc(), Alert.id.desc()))
        return [alert_dict(a) for a in session.scalars(query)]


def ack(engine: Engine, alert_id: int, by: str, comment: str | None) -> dict | None:
    with Session(engine) as session, session.begin():
        alert = session.get(Alert, alert_id)
        if alert is None:
            return None
        alert.acked_by, alert.acked_ms, alert.ack_comment = by, timeutil.now_ms(), comment
        return alert_dict(alert)


# ---- silences ----

def silence_dict(silence: Silence, now_ms: int | None = None) -> dict:
    now = timeutil.now_ms() if now_ms is None else now_ms
    matchers = {k: v for k, v in (("kind", silence.kind), ("channel", silence.channel),
                                  ("step", silence.step)) if v is not None}
    return {"id": silence.id, "matchers": matchers, "starts_at": iso(silence.starts_ms),
            "ends_at": iso(silence.ends_ms), "comment": silence.comment, "created_by": silence.created_by,
            "active": silence.starts_ms <= now < silence.ends_ms}


def create_silence(engine: Engine, body: dict, by: str, now_ms: int | None = None) -> dict:
    if not isinstance(body, dict):
        raise rules.RuleError("the body must be a JSON object")
    matchers = body.get("matchers", {})
    if not isinstance(matchers, dict) or set(matchers) - {"kind", "channel", "step"}:
        raise rules.RuleError("matchers is an object with kind, channel and/or step", {"field": "matchers"})
    kind = matchers.get("kind")
    if kind is not None and kind not in rules.KINDS:
        raise rules.RuleError(f"matchers.kind must be one of {', '.join(rules.KINDS)}",
                              {"field": "matchers.kind"})
    channel, step = rules.validate_scope("reject_rate_spike", matchers.get("channel"), matchers.get("step"))
    now = timeutil.now_ms() if now_ms is None else now_ms
    try:
        ends = to_ms(timeutil.parse_instant(str(body["ends_at"]), "ends_at"))
    except KeyError:
        raise rules.RuleError("ends_at is required (ISO-8601 with offset)", {"field": "ends_at"}) from None
    except ValueError as exc:
        raise rules.RuleError(str(exc), {"field": "ends_at"}) from None
    starts = now
    if body.get("starts_at") is not None:
        try:
            starts = to_ms(timeutil.parse_instant(str(body["starts_at"]), "starts_at"))
        except ValueError as exc:
            raise rules.RuleError(str(exc), {"field": "starts_at"}) from None
    if ends <= max(starts, now):
        raise rules.RuleError("ends_at must be in the future and after starts_at", {"field": "ends_at"})
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 2000:
        raise rules.RuleError("comment must be a string of at most 2000 characters", {"field": "comment"})
    with Session(engine) as session, session.begin():
        silence = Silence(kind=kind, channel=channel, step=step, starts_ms=starts, ends_ms=ends,
                          comment=comment, created_by=by)
        session.add(silence)
        session.flush()
        return silence_dict(silence, now)


def list_silences(engine: Engine, include_expired: bool = False, now_ms: int | None = None) -> list[dict]:
    now = timeutil.now_ms() if now_ms is None else now_ms
    with Session(engine) as session:
        query = select(Silence).order_by(Silence.ends_ms.desc())
        if not include_expired:
            query = query.where(Silence.ends_ms > now)
        return [silence_dict(s, now) for s in session.scalars(query)]


def delete_silence(engine: Engine, silence_id: int) -> bool:
    with Session(engine) as session, session.begin():
        return session.execute(delete(Silence).where(Silence.id == silence_id)).rowcount > 0


def active_silences(engine: Engine, now_ms: int) -> list[dict]:
    """Matchers of the silences in force at `now_ms` (an expired one no longer applies)."""
    with Session(engine) as session:
        query = select(Silence).where(Silence.starts_ms <= now_ms, Silence.ends_ms > now_ms)
        return [{"kind": s.kind, "channel": s.channel, "step": s.step} for s in session.scalars(query)]


def is_silenced(silences: list[dict], kind: str, channel: str | None, step: int | None) -> bool:
    """A silence matches when each matcher it has equals the alert's field (absent matchers match all)."""
    fields = {"kind": kind, "channel": channel, "step": step}
    return any(all(v is None or fields[k] == v for k, v in s.items()) for s in silences)
