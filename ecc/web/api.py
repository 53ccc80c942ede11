"""/api/v1 and /metrics (docs/api.md): a thin Flask adapter over the door, the stores and analytics.

Parameters are checked here and turned into typed values; a bad one is a 400 with a JSON body that says
what is wrong, never a stack trace. Money leaves as decimal strings, ratios as numbers or null.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ecc import metadata, timeutil
from ecc.contract import validate
from ecc.olap import analytics, time_to_convert, timeseries
from ecc.services import Services
from ecc.web import health
from ecc.web.requests import ApiError, install, int_arg, number_arg

log = logging.getLogger(__name__)
MAX_EVENTS_PER_REQUEST = 50_000
MAX_BODY_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
# The instants a query may name: DateTime's range in ClickHouse starts at 1970; 2100 is far enough.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# Answer cache lifetimes: a period that reaches the present changes with the clock too; a closed one
# only with stored data, which the data watermark marks within 1.5 s (ecc/web/answer_cache.py,
# MIN_AGE_S). The minute bounds what moved no watermark (Redis unreachable when the sink stored).
TTL_OPEN_S = 1.5
TTL_CLOSED_S = 60.0
_CLOSED_AFTER = timedelta(minutes=10)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


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


def _instant(name: str) -> datetime:
    """A query-string instant within [EARLIEST, LATEST): anything else is a 400 that says why."""
    try:
        moment = timeutil.parse_instant(request.args[name], name)
    except ValueError as exc:
        raise ApiError(str(exc)) from None
    if not EARLIEST <= moment < LATEST:
        raise ApiError(f"{name} must be between {EARLIEST.date()} and {LATEST.date()}, "
                         f"got {request.args[name]!r}")
    return moment


def _period() -> Query:
    start, end = timeutil.today_period()
    if "from" in request.args:
        start = _instant("from")
    if "to" in request.args:
        end = _instant("to")
    if end <= start:
        raise ApiError("to must be after from", {"from": start.isoformat(), "to": end.isoformat()})
    channels = request.args.getlist("channel")
    for ch in channels:
        try:
            validate.check_channel("channel", ch)
        except validate.InvalidEvent as exc:
            raise ApiError(str(exc)) from None
    return Query(start, end, channels, request.args.getlist("province"))


def _choice(name: str, options, default: str | None = None) -> str:
    value = request.args.get(name, default)
    if value is None:
        raise ApiError(f"{name} is required (one of {', '.join(options)})")
    if value not in options:
        raise ApiError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def csv_cell(value):
    """A CSV cell a spreadsheet shows as text: a leading quote defuses a formula (=, +, -, @, tab, CR)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(rows: list[dict], fields: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return "\ufeff" + out.getvalue()  # the BOM makes Excel read the Chinese text as UTF-8


def read_body(limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 from Content-Length before a byte is read, and counted while
    read when there is none (chunked): never more than `limit` + one chunk in memory."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(f"body of {request.content_length} bytes is over {limit}; split the batch",
                         status=413)
    stream = request.stream
    parts, size = [], 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise ApiError(f"body over {limit} bytes; split the batch", status=413)
        parts.append(chunk)


def cache_key(endpoint: str, q: Query, **extra) -> tuple[str, float]:
    """(key, ttl) of an answer: the endpoint and its normalised parameters; "today so far" is one key
    per day, not one per request (its `to` is the clock)."""
    explicit_to = "to" in request.args
    end = q.end.astimezone(UTC).isoformat() if explicit_to else "now"
    period = [q.start.astimezone(UTC).isoformat(), end]
    params = {"p": period, "ch": sorted(q.channels), "pr": sorted(q.provinces), **extra}
    closed = explicit_to and q.end < datetime.now(UTC) - _CLOSED_AFTER
    return endpoint + ":" + json.dumps(params, sort_keys=True, ensure_ascii=False), \
        (TTL_CLOSED_S if closed else TTL_OPEN_S)


SERVICES_EXTENSION = "ecc.services"


def create_api(services: Services) -> Blueprint:
    api = Blueprint("api_v1", __name__)
    ch = services.ch

    @api.record_once
    def bind(state) -> None:
        # The app's services, for the gunicorn worker hook that starts their background threads
        # (ecc/auth/gunicorn_conf.py post_worker_init).
        state.app.extensions[SERVICES_EXTENSION] = services

    install(api)  # ApiError: the contract's {"error", "detail"} with its 4xx (ecc/web/requests.py)

    @api.errorhandler(Exception)
    def internal_error(exc: Exception):
        # The last line of defence: the operator gets a JSON answer, the log gets the traceback.
        if isinstance(exc, HTTPException):
            return jsonify({"error": exc.name, "detail": exc.description}), exc.code
        log.exception("%s %s failed", request.method, request.path)
        return jsonify({"error": "internal error; see the server log", "detail": type(exc).__name__}), 500

    def cached(endpoint: str, q: Query, compute, **extra) -> Response:
        key, ttl = cache_key(endpoint, q, **extra)
        text = services.answers.get(key, ttl, lambda: json.dumps(jsonable(compute()), ensure_ascii=False),
                                    watermarked=True)
        return Response(text, mimetype="application/json")

    @api.route("/api/<path:_rest>", methods=list(_METHODS))
    def unknown(_rest: str):
        """Under /api/ an unknown path is a JSON 404 and a wrong method a JSON 405, never the dashboard's
        catch-all HTML page."""
        adapter = current_app.url_map.bind("localhost")
        allowed = []
        for method in _METHODS:
            try:
                endpoint, _ = adapter.match(request.path, method=method)
            except HTTPException:
                continue
            if endpoint != f"{api.name}.unknown":
                allowed.append(method)
        if allowed:
            return jsonify({"error": f"method {request.method} not allowed on {request.path}",
                            "detail": {"allowed": allowed}}), 405, {"Allow": ", ".join(allowed)}
        return jsonify({"error": f"no such endpoint: {request.path}",
                        "detail": "see /api/v1/openapi.json"}), 404

    @api.post("/api/v1/events")
    def post_events():
        body = read_body()
        kind = (request.mimetype or "").lower()
        if kind in ("application/x-ndjson", "application/jsonl", "application/json-lines"):
            lines = body.splitlines()
            if len(lines) > MAX_EVENTS_PER_REQUEST:
                raise ApiError(f"at most {MAX_EVENTS_PER_REQUEST} events a request", status=413)
            result = services.door.publish_lines(lines, "http")
        elif kind == "application/json":
            try:
                objs = validate.decode(body)
            except ValueError as exc:
                raise ApiError(f"body is not valid JSON: {exc}") from None
            if not isinstance(objs, list):
                objs = [objs]
            if len(objs) > MAX_EVENTS_PER_REQUEST:
                raise ApiError(f"at most {MAX_EVENTS_PER_REQUEST} events a request", status=413)
            result = services.door.publish_objects(objs, "http")
        else:
            raise ApiError("Content-Type must be application/x-ndjson or application/json", status=415)
        body = result.to_dict()
        if not result.complete:
            # Only what the broker acknowledged counts as accepted; the client sends the batch again
            # (event_id makes a second copy of an acknowledged event harmless).
            body["error"] = "the broker did not acknowledge every event; send the batch again"
            return jsonify(body), 503
        status = 200 if result.accepted or not result.rejected else 422
        return jsonify(body), status

    @api.get("/api/v1/kpis")
    def kpis():
        q = _period()

        def compute():
            body = analytics.kpis(ch, q.start, q.end, q.channels, q.provinces, datetime.now(timeutil.TZ))
            return {**body, "freshness_s": health.clamp_freshness(body.get("freshness_s"))}
        return cached("kpis", q, compute)

    @api.get("/api/v1/channels")
    def channels():
        q = _period()

        def compute():
            rows = analytics.channels(ch, q.start, q.end, q.provinces, datetime.now(timeutil.TZ))
            names = metadata.channel_names(services.meta)
            for row in rows:
                row["name_zh"], row["name_en"] = names.get(row["channel"], (row["channel"], row["channel"]))
                row["freshness_s"] = health.clamp_freshness(row.get("freshness_s"))
            return {"from": q.start, "to": q.end, "channels": rows}
        return cached("channels", q, compute)

    @api.get("/api/v1/funnel")
    def funnel():
        q = _period()
        window = int_arg("window_hours", 72, 1, 24 * 90)
        return cached("funnel", q, lambda: {
            **analytics.funnel(ch, q.start, q.end, window, q.channels, q.provinces),
            "time_to_convert_histogram": time_to_convert.histogram(ch, q.start, q.end, window, q.channels,
                                                                   q.provinces)}, window=window)

    @api.get("/api/v1/funnel/dropped")
    def dropped():
        q = _period()
        if "step" not in request.args:
            raise ApiError("step is required (1..10)")
        step = int_arg("step", 0, 1, 10)
        window = int_arg("window_hours", 72, 1, 24 * 90)
        limit = int_arg("limit", 1000, 1, 100_000)
        idle = number_arg("idle_hours", 2.0, 0.0, 24.0 * 90)
        rows = jsonable(analytics.dropped(ch, q.start, q.end, step, window, q.channels, q.provinces, limit,
                                          idle_hours=idle))
        if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
            fields = list(rows[0]) if rows else ["lead_id", "channel", "phone_masked", "province",
                                                 "furthest_step", "last_step_at", "idle_hours"]
            return Response(csv_text(rows, fields), mimetype="text/csv",
                            headers={"Content-Disposition": f"attachment; filename=dropped-step{step}.csv"})
        return jsonify({"step": step, "window_hours": window, "idle_hours": idle, "count": len(rows),
                        "items": rows})

    @api.get("/api/v1/assets")
    def assets():
        q = _period()
        at = _instant("at") if "at" in request.args else q.end
        at_key = at.astimezone(UTC).isoformat() if "at" in request.args or "to" in request.args else "now"
        return cached("assets", q, lambda: analytics.assets(ch, at, q.channels, q.provinces), at=at_key)

    @api.get("/api/v1/series")
    def series():
        q = _period()
        metric = _choice("metric", timeseries.SERIES_METRICS)
        interval = _choice("interval", list(timeutil.INTERVALS), "1m")
        buckets = (q.end - q.start) / timeutil.INTERVALS[interval]
        if buckets > 20_000:
            raise ApiError(f"{buckets:.0f} buckets: use a larger interval or a shorter period")
        return cached("series", q, lambda: timeseries.series(ch, metric, interval, q.start, q.end, q.channels,
                                                            q.provinces), metric=metric, interval=interval)

    @api.get("/api/v1/rejects")
    def rejects():
        limit = int_arg("limit", 100, 1, 1000)
        offset = int_arg("offset", 0, 0, 10_000_000)
        return jsonify(jsonable(analytics.rejects(ch, limit, offset)))

    @api.get("/api/v1/health")
    def health_endpoint():
        body = health.report(services)
        return jsonify(jsonable(body)), health.http_status(body)

    @api.get("/metrics")
    def metrics():
        return Response(health.prometheus_text(services), mimetype="text/plain; version=0.0.4")

    @api.get("/api/v1/openapi.json")
    def openapi():
        from ecc.web.openapi import document

        return jsonify(document())

    return api
