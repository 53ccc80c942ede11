"""/api/v1 and /metrics (contract/api.md): a thin Flask adapter over the door, the stores and analytics.

Parameters are checked here and turned into typed values; a bad one is a 400 with a JSON body that says
what is wrong, never a stack trace. Money leaves as decimal strings, ratios as numbers or null.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ecc import analytics, metadata, timeutil, validate
from ecc.kafka import BrokerError
from ecc.services import Services

log = logging.getLogger(__name__)
MAX_EVENTS_PER_REQUEST = 50_000
MAX_BODY_BYTES = 64 * 1024 * 1024


class BadRequest(ValueError):
    def __init__(self, message: str, detail=None, status: int = 400):
        super().__init__(message)
        self.detail = detail
        self.status = status


def jsonable(value):
    """Decimals become exact strings, datetimes ISO-8601 in Shanghai time; the rest as it is."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, datetime):
        return value.astimezone(timeutil.TZ).isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    channels: list[str]
    provinces: list[str]


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def _period() -> Query:
    start, end = timeutil.today_period()
    try:
        if "from" in request.args:
            start = timeutil.parse_instant(request.args["from"], "from")
        if "to" in request.args:
            end = timeutil.parse_instant(request.args["to"], "to")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if end <= start:
        raise BadRequest("to must be after from", {"from": start.isoformat(), "to": end.isoformat()})
    channels = request.args.getlist("channel")
    for ch in channels:
        try:
            validate.check_channel("channel", ch)
        except validate.InvalidEvent as exc:
            raise BadRequest(str(exc)) from None
    return Query(start, end, channels, request.args.getlist("province"))


def _choice(name: str, options, default: str | None = None) -> str:
    value = request.args.get(name, default)
    if value is None:
        raise BadRequest(f"{name} is required (one of {', '.join(options)})")
    if value not in options:
        raise BadRequest(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def create_api(services: Services) -> Blueprint:
    api = Blueprint("api_v1", __name__)
    ch = services.ch

    @api.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        return jsonify({"error": str(exc), "detail": exc.detail}), exc.status

    @api.errorhandler(Exception)
    def internal_error(exc: Exception):
        # The last line of defence: the operator gets a JSON answer, the log gets the traceback.
        if isinstance(exc, HTTPException):
            return jsonify({"error": exc.name, "detail": exc.description}), exc.code
        log.exception("%s %s failed", request.method, request.path)
        return jsonify({"error": "internal error; see the server log", "detail": type(exc).__name__}), 500

    @api.post("/api/v1/events")
    def post_events():
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(f"body over {MAX_BODY_BYTES} bytes; split the batch", status=413)
        kind = (request.mimetype or "").lower()
        source = "http"
        if kind in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
            lines = body.splitlines()
            if len(lines) > MAX_EVENTS_PER_REQUEST:
                raise BadRequest(f"at most {MAX_EVENTS_PER_REQUEST} events a request", status=413)
            batch = validate.parse_lines(lines, source=source, phone_key=services.settings.phone_hash_key)
        elif kind == "application/json":
            try:
                objs = validate.decode(body)
            except ValueError as exc:
                raise BadRequest(f"body is not valid JSON: {exc}") from None
            if not isinstance(objs, list):
                objs = [objs]
            if len(objs) > MAX_EVENTS_PER_REQUEST:
                raise BadRequest(f"at most {MAX_EVENTS_PER_REQUEST} events a request", status=413)
            batch = validate.check_objects(objs, source=source, phone_key=services.settings.phone_hash_key)
        else:
            raise BadRequest("Content-Type must be application/x-ndjson or application/json", status=415)
        try:
            result = services.door.publish(batch)
        except BrokerError as exc:
            log.error("events not published: %s", exc)
            return jsonify({"error": "the broker did not accept the events; retry", "detail": str(exc)}), 503
        status = 200 if result.accepted or not result.rejected else 422
        return jsonify(result.to_dict()), status

    @api.get("/api/v1/kpis")
    def kpis():
        q = _period()
        return jsonify(jsonable(analytics.kpis(ch, q.start, q.end, q.channels, q.provinces,
                                               datetime.now(timeutil.TZ))))

    @api.get("/api/v1/channels")
    def channels():
        q = _period()
        rows = analytics.channels(ch, q.start, q.end, q.provinces, datetime.now(timeutil.TZ))
        names = metadata.channel_names(services.meta)
        for row in rows:
            row["name_zh"], row["name_en"] = names.get(row["channel"], (row["channel"], row["channel"]))
        return jsonify(jsonable({"from": q.start, "to": q.end, "channels": rows}))

    @api.get("/api/v1/funnel")
    def funnel():
        q = _period()
        window = _int("window_hours", 72, 1, 24 * 90)
        return jsonify(jsonable(analytics.funnel(ch, q.start, q.end, window, q.channels, q.provinces)))

    @api.get("/api/v1/funnel/dropped")
    def dropped():
        q = _period()
        if "step" not in request.args:
            raise BadRequest("step is required (1..10)")
        step = _int("step", 0, 1, 10)
        window = _int("window_hours", 72, 1, 24 * 90)
        limit = _int("limit", 1000, 1, 100_000)
        rows = jsonable(analytics.dropped(ch, q.start, q.end, step, window, q.channels, q.provinces, limit))
        if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
            out = io.StringIO()
            fields = list(rows[0]) if rows else ["lead_id", "channel", "phone_masked", "province",
                                                 "furthest_step", "last_step_at"]
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
            return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename=dropped-step{step}.csv"})
        return jsonify({"step": step, "window_hours": window, "count": len(rows), "items": rows})

    @api.get("/api/v1/assets")
    def assets():
        q = _period()
        at = q.end
        if "at" in request.args:
            try:
                at = timeutil.parse_instant(request.args["at"], "at")
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
        return jsonify(jsonable(analytics.assets(ch, at, q.channels, q.provinces)))

    @api.get("/api/v1/series")
    def series():
        q = _period()
        metric = _choice("metric", analytics.SERIES_METRICS)
        interval = _choice("interval", list(timeutil.INTERVALS), "1m")
        buckets = (q.end - q.start) / timeutil.INTERVALS[interval]
        if buckets > 20_000:
            raise BadRequest(f"{buckets:.0f} buckets: use a larger interval or a shorter period")
        return jsonify(jsonable(analytics.series(ch, metric, interval, q.start, q.end, q.channels,
                                                 q.provinces)))

    @api.get("/api/v1/rejects")
    def rejects():
        limit = _int("limit", 100, 1, 1000)
        offset = _int("offset", 0, 0, 10_000_000)
        return jsonify(jsonable(analytics.rejects(ch, limit, offset)))

    @api.get("/api/v1/health")
    def health():
        body = health_report(services)
        return jsonify(jsonable(body)), 200 if body["status"] == "up" else 503

    @api.get("/metrics")
    def metrics():
        return Response(prometheus_text(services), mimetype="text/plain; version=0.0.4")

    @api.get("/api/v1/openapi.json")
    def openapi():
        from ecc.openapi import document

        return jsonify(document())

    return api


_health_cache: dict[str, tuple[float, object]] = {}


def _cached(name: str, seconds: float, compute):
    hit = _health_cache.get(name)
    if hit and time.monotonic() - hit[0] < seconds:
        return hit[1]
    value = compute()
    _health_cache[name] = (time.monotonic(), value)
    return value


def health_report(services: Services) -> dict:
    from ecc import clickhouse
    from ecc.kafka import consumer_lag

    s = services.settings
    components: dict[str, dict] = {}
    components["redis"] = {"up": services.live.ping()}
    components["clickhouse"] = {"up": clickhouse.ping(services.ch)}
    worker_lag = _cached("lag-worker", 5, lambda: consumer_lag(s, "ecc-worker", [s.topic_events]))
    components["broker"] = {"up": worker_lag is not None}
    components["worker"] = {"up": worker_lag is not None, "lag": worker_lag}
    if services.sink is not None:
        st = services.sink.stats
        sink_lag = _cached("lag-sink", 5, lambda: consumer_lag(s, "ecc-sink", [s.topic_events, s.topic_rejects]))
        components["sink"] = {"up": services.sink.alive and st.healthy,
                              "lag": sink_lag, "inserted": st.inserted, "redelivered": st.redelivered,
                              "last_error": st.last_error}
    now = timeutil.now_ms()
    fresh = services.live.freshness_ms() if components["redis"]["up"] else {}
    freshness = {src: round((now - ts) / 1000, 3) for src, ts in fresh.items()}
    ch_fresh = analytics.freshness_s(services.ch) if components["clickhouse"]["up"] else None
    up = all(c["up"] for c in components.values())
    return {"status": "up" if up else "degraded", "components": components,
            "freshness_s": {"redis": freshness, "clickhouse": ch_fresh},
            "ingest_rate": services.live.rate("accepted") if components["redis"]["up"] else None,
            "reject_rate": services.live.rate("rejected") if components["redis"]["up"] else None,
            "uptime_s": round(time.time() - services.started_at, 1)}


def prometheus_text(services: Services) -> str:
    h = health_report(services)
    lines = ["# HELP ecc_up Component is up (1) or down (0).", "# TYPE ecc_up gauge"]
    for name, comp in h["components"].items():
        lines.append(f'ecc_up{{component="{name}"}} {1 if comp["up"] else 0}')
    lines += ["# HELP ecc_consumer_lag Messages not yet processed by a consumer group.",
              "# TYPE ecc_consumer_lag gauge"]
    for name, comp in h["components"].items():
        if comp.get("lag") is not None:
            lines.append(f'ecc_consumer_lag{{consumer="{name}"}} {comp["lag"]}')
    lines += ["# HELP ecc_freshness_seconds Now minus the newest event time included, per source.",
              "# TYPE ecc_freshness_seconds gauge"]
    for src, value in sorted(h["freshness_s"]["redis"].items()):
        lines.append(f'ecc_freshness_seconds{{store="redis",source="{src}"}} {value}')
    if h["freshness_s"]["clickhouse"] is not None:
        lines.append(f'ecc_freshness_seconds{{store="clickhouse",source="all"}} {h["freshness_s"]["clickhouse"]}')
    for kind in ("ingest_rate", "reject_rate"):
        if h[kind] is not None:
            lines += [f"# TYPE ecc_{kind}_per_second gauge", f"ecc_{kind}_per_second {h[kind]}"]
    if services.sink is not None:
        st = services.sink.stats
        lines += ["# TYPE ecc_sink_inserted_total counter", f"ecc_sink_inserted_total {st.inserted}",
                  "# TYPE ecc_sink_redelivered_total counter", f"ecc_sink_redelivered_total {st.redelivered}"]
    return "\n".join(lines) + "\n"

