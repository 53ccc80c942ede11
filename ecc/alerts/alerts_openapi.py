"""The OpenAPI paths of /api/v1/alerts, /silences and /alert-rules (merged into ecc/web/openapi.py)."""

from __future__ import annotations

from ecc.alerts.rules import BASELINES, KINDS
from ecc.alerts.store import ALERT_STATES

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_TIME = {"type": ["string", "null"], "format": "date-time"}
ALERT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "rule_id": {"type": "integer"}, "kind": {"enum": list(KINDS)},
    "channel": {"type": ["string", "null"]}, "step": {"type": ["integer", "null"]},
    "state": {"enum": list(ALERT_STATES)}, "started_at": _TIME, "fired_at": _TIME, "resolved_at": _TIME,
    "observed": {"type": ["number", "null"]}, "baseline": {"type": ["number", "null"]},
    "sample": {"type": ["integer", "null"]}, "p_value": {"type": ["number", "null"]},
    "acked_by": {"type": ["string", "null"]}, "silenced": {"type": "boolean"},
    "link": {"type": "string", "description": "drill-down filtered to the channel, step and time"}}}
MUTE = {"type": "array", "items": {"type": "object", "properties": {
    "days": {"type": "string", "example": "mon-fri"}, "from": {"type": "string", "example": "00:00"},
    "to": {"type": "string", "example": "08:30"}}}, "description": "Asia/Shanghai; [] = never muted"}
RULE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"enum": list(KINDS)}, "channel": {"type": ["string", "null"]},
    "step": {"type": ["integer", "null"]}, "enabled": {"type": "boolean"},
    "params": {"type": "object", "properties": {"baseline": {"enum": list(BASELINES)}, "mute": MUTE},
               "description": "the kind's params (docs/alerts.md); a PUT merges the ones it sends"}}}
SILENCE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "matchers": {"type": "object", "properties": {
        "kind": {"enum": list(KINDS)}, "channel": {"type": "string"}, "step": {"type": "integer"}}},
    "starts_at": _TIME, "ends_at": _TIME, "comment": {"type": "string"}, "created_by": {"type": "string"},
    "active": {"type": "boolean"}}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_BAD = {"description": "invalid", "content": _ERROR}
_MISSING = {"description": "not found", "content": _ERROR}

PATHS = {
    "/api/v1/alerts": {"get": {
        "summary": "Alerts: open ones and those of the day (default today), newest first",
        "parameters": [{"name": "state", "in": "query", "schema": {"enum": list(ALERT_STATES)},
                        "description": "repeatable"},
                       {"name": "day", "in": "query", "schema": {"type": "string", "format": "date"}}],
        "responses": {"200": _json({"type": "array", "items": ALERT}), "400": _BAD}}},
    "/api/v1/alerts/{id}/ack": {"post": {
        "summary": "Acknowledge (operator): no more repeats; acked_by is the logged-in user",
        "parameters": [_ID], "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"comment": {"type": "string"}}}}}},
        "responses": {"200": _json(ALERT), "404": _MISSING}}},
    "/api/v1/silences": {
        "get": {"summary": "Silences in force (?expired=1: also the expired ones)",
                "responses": {"200": _json({"type": "array", "items": SILENCE})}},
        "post": {"summary": "Silence matching alerts until ends_at (operator)", "requestBody": _body(SILENCE),
                 "responses": {"201": _json(SILENCE, "created"), "400": _BAD}}},
    "/api/v1/silences/{id}": {"delete": {"summary": "End a silence (operator)", "parameters": [_ID],
                                         "responses": {"204": {"description": "deleted"}, "404": _MISSING}}},
    "/api/v1/alert-rules": {
        "get": {"summary": "Alert rules", "responses": {"200": _json({"type": "array", "items": RULE})}},
        "post": {"summary": "Add a rule (admin); params default per kind", "requestBody": _body(RULE),
                 "responses": {"201": _json(RULE, "created"), "400": _BAD}}},
    "/api/v1/alert-rules/{id}": {
        "put": {"summary": "Change a rule (admin); params are merged", "parameters": [_ID],
                "requestBody": _body(RULE), "responses": {"200": _json(RULE), "400": _BAD, "404": _MISSING}},
        "delete": {"summary": "Delete a rule (admin); its open alerts resolve quietly", "parameters": [_ID],
                   "responses": {"204": {"description": "deleted"}, "404": _MISSING}}},
}
