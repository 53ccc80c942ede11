"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json (described in docs/api.md)."""

from __future__ import annotations

from ecc.alerts import alerts_openapi, notify_openapi
from ecc.auth import auth_openapi
from ecc.contract import catalogue

_STEP_KEYS = {str(k): {"type": "integer"} for k in catalogue.STEPS}
_RATIO = {"type": ["number", "null"], "description": "null when the denominator is 0"}
_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "exact decimal CNY"}
_RATIO_BY_STEP = {"type": "object", "additionalProperties": _RATIO}

_PERIOD = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"},
     "description": "ISO-8601 with offset; default: start of today (Asia/Shanghai)"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"},
     "description": "ISO-8601 with offset, exclusive; default: now"},
    {"name": "channel", "in": "query", "schema": {"type": "array", "items": {"type": "string"}},
     "style": "form", "explode": True, "description": "repeatable channel filter"},
    {"name": "province", "in": "query", "schema": {"type": "array", "items": {"type": "string"}},
     "style": "form", "explode": True, "description": "repeatable province filter"},
]

KPIS = {
    "type": "object",
    "properties": {
        "leads": {"type": "integer"}, "dialed_leads": {"type": "integer"}, "dial_rate": _RATIO,
        "connected_leads": {"type": "integer"},
        "reach": {"type": "object", "properties": _STEP_KEYS},
        "step_conversion": _RATIO_BY_STEP, "opened": {"type": "integer"}, "open_rate": _RATIO,
        "rejects": {"type": "object", "properties": _STEP_KEYS}, "reject_rate": _RATIO_BY_STEP,
        "first_deposits": {"type": "integer"}, "deposit_amount": _MONEY, "net_inflow": _MONEY,
        "deposit_rate": _RATIO, "aum": _MONEY, "turnover_rate": _RATIO,
        "wealth_preference": {"type": "object", "additionalProperties": {"type": "number"}},
        "wealth_preference_by_segment": {"type": "object"},
        "freshness_s": {"type": ["number", "null"]},
    },
}
_OBJECT = {"type": "object"}
_INGESTED = {"type": "object", "properties": {
    "accepted": {"type": "integer"}, "rejected": {"type": "integer"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "index": {"type": "integer"}, "reason": {"type": "string"}}}}}}
_FUNNEL = {"type": "object", "properties": {
    "window_hours": {"type": "integer"}, "cohort": {"type": "object", "properties": _STEP_KEYS},
    "overall_conversion": _RATIO_BY_STEP, "step_conversion": _RATIO_BY_STEP, "time_to_convert": _OBJECT,
    # the same distribution as counts in fixed buckets [from_s, to_s) (to_s null: open), for a histogram
    "time_to_convert_histogram": {"type": "object", "properties": {
        "from_step": {"type": "integer"}, "to_step": {"type": "integer"}, "count": {"type": "integer"},
        "buckets": {"type": "array", "items": {"type": "object", "properties": {
            "from_s": {"type": "integer"}, "to_s": {"type": ["integer", "null"]},
            "leads": {"type": "integer"}}}}}}}}
_ASSETS = {"type": "object", "properties": {
    "total": _MONEY, "by_class": _OBJECT, "by_level": _OBJECT, "by_segment": _OBJECT, "by_province": _OBJECT,
    "by_channel": _OBJECT}}
_SERIES = {"type": "object", "properties": {
    "points": {"type": "array"}, "previous_day": {"type": "array"}, "previous_week": {"type": "array"}}}
_REJECTS = {"type": "object", "properties": {
    "total": {"type": "integer"},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "received_at": {"type": "string"}, "reason": {"type": "string"}, "raw": {"type": "string"}}}}}}
_METRIC = {"name": "metric", "in": "query", "required": True, "schema": {"type": "string"}}
_INTERVAL = {"name": "interval", "in": "query", "schema": {"enum": ["1m", "5m", "1h", "1d"]}}
ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"}, "detail": {}}}


def _get(summary: str, params: list, schema: dict, extra: dict | None = None) -> dict:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                 "400": {"description": "bad parameter",
                         "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
    responses["200"]["content"].update(extra or {})
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def _int_param(name: str, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": {"type": "integer"},
            "description": description}


def _instant_param(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "string", "format": "date-time"},
            "description": description}


def document() -> dict:
    return auth_openapi.secure({  # access: security schemes, each operation's role, 401/403
        "openapi": "3.1.0",
        "info": {"title": "ECC 业务指挥中心 API", "version": "1",
                 "description": "Metric definitions: docs/metrics.md; event format: docs/events.md; "
                                "endpoints and caching: docs/api.md (in the ECC repository)."},
        "paths": {
            "/api/v1/events": {"post": {
                "summary": "Ingest events (NDJSON or a JSON array), up to 50,000 a request",
                "requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}},
                                            "application/json": {"schema": {"type": "array"}}}},
                "responses": {
                    "200": {"description": "published (some may be rejected)",
                            "content": {"application/json": {"schema": _INGESTED}}},
                    "400": {"description": "body is not JSON"},
                    "413": {"description": "too large"}, "415": {"description": "wrong content type"},
                    "422": {"description": "every event was rejected"},
                    "503": {"description": "the broker did not acknowledge"}}}},
            "/api/v1/kpis": _get("Every metric for the period and filters", _PERIOD, KPIS),
            "/api/v1/channels": _get("One row per channel with the same metrics", _PERIOD, {
                "type": "object", "properties": {"channels": {"type": "array", "items": KPIS}}}),
            "/api/v1/funnel": _get("Cohort funnel (windowFunnel)",
                                   [*_PERIOD, _int_param("window_hours", "conversion window, default 72")],
                                   _FUNNEL),
            "/api/v1/funnel/dropped": _get(
                "Dropped-off leads at a step (phones masked); CSV with Accept: text/csv",
                [*_PERIOD, _int_param("step", "1..10", True), _int_param("window_hours", "default 72"),
                 {"name": "idle_hours", "in": "query", "schema": {"type": "number", "minimum": 0},
                  "description": "only leads whose last step is at least this long ago, default 2"},
                 _int_param("limit", "default 1000")],
                {"type": "object", "properties": {"items": {"type": "array"}}},
                {"text/csv": {"schema": {"type": "string"}}}),
            "/api/v1/assets": _get("AUM by class, level, segment, province, channel",
                                   [*_PERIOD, _instant_param("at", "default: the period end")], _ASSETS),
            "/api/v1/series": _get("Time series with previous_day and previous_week companions",
                                   [*_PERIOD, _METRIC, _INTERVAL], _SERIES),
            "/api/v1/rejects": _get("Recent rejected events, newest first (phones masked)",
                                    [_int_param("limit", "default 100"), _int_param("offset", "default 0")],
                                    _REJECTS),
            "/api/v1/health": _get("Each component up/down, consumer lag, freshness", [], {"type": "object"}),
            "/metrics": _get("Prometheus text format", [], {"type": "string"}),
            **notify_openapi.PATHS,
            **alerts_openapi.PATHS,
            **auth_openapi.PATHS,
        },
        "components": {"schemas": {"Error": ERROR, "Kpis": KPIS}},
    })
