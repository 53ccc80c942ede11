"""The OpenAPI paths of /api/v1/receivers and /api/v1/notifications (merged into ecc/web/openapi.py)."""

from __future__ import annotations

from ecc.alerts.notify_formats import KINDS
from ecc.alerts.notify_log import STATUSES

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RECEIVER = {"type": "object", "required": ["id", "kind", "enabled"], "properties": {
    "id": {"type": "integer"}, "kind": {"enum": list(KINDS)},
    "url": {"type": "string", "description": "robot or webhook URL; for email an optional SMTP server: "
                                             "smtp://[user@]host[:port][?starttls=1][&cafile=/ca.pem] "
                                             "or smtps://…"},
    "to": {"type": "string", "description": "email: recipients, comma-separated"},
    "name": {"type": "string"}, "lang": {"enum": ["", "zh", "en"]}, "enabled": {"type": "boolean"},
    "has_secret": {"type": "boolean", "description": "the secret itself is write-only, never returned"}}}
RECEIVER_INPUT = {"type": "object", "properties": {
    **{k: v for k, v in RECEIVER["properties"].items() if k not in ("id", "has_secret")},
    "secret": {"type": "string", "writeOnly": True,
               "description": "webhook: HMAC key of X-ECC-Signature; dingtalk: 加签 secret; "
                              "feishu: 签名校验 secret; email: SMTP password. Omit to keep, \"\" to clear. "
                              "Stored sealed with the installation's ECC_SECRET_KEY; without one, a secret "
                              "is refused (400)"}},
    "additionalProperties": False}
DELIVERY = {"type": "object", "properties": {
    "alert_id": {"type": ["integer", "string"]}, "receiver_id": {"type": "integer"},
    "attempt": {"type": "integer"}, "status": {"enum": list(STATUSES)},
    "at": {"type": "string", "format": "date-time"}, "error": {"type": ["string", "null"]},
    "transition": {"enum": ["firing", "resolved", "repeat"]}}}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_BODY = {"required": True, "content": {"application/json": {"schema": RECEIVER_INPUT}}}
_NOT_FOUND = {"description": "no such receiver", "content": _ERROR}

PATHS = {
    "/api/v1/receivers": {
        "get": {"summary": "Notification receivers (admin); secrets never returned",
                "responses": {"200": _json({"type": "array", "items": RECEIVER})}},
        "post": {"summary": "Add a receiver (admin)", "requestBody": _BODY,
                 "responses": {"201": _json(RECEIVER, "created"),
                               "400": {"description": "invalid receiver", "content": _ERROR}}},
    },
    "/api/v1/receivers/{id}": {
        "put": {"summary": "Change the fields sent (admin); without secret the secret is kept",
                "parameters": [_ID], "requestBody": _BODY,
                "responses": {"200": _json(RECEIVER), "400": {"description": "invalid", "content": _ERROR},
                              "404": _NOT_FOUND}},
        "delete": {"summary": "Delete a receiver (admin); its delivery log stays", "parameters": [_ID],
                   "responses": {"204": {"description": "deleted"}, "404": _NOT_FOUND}},
    },
    "/api/v1/receivers/{id}/test": {
        "post": {"summary": "Send a test message now (admin); not retried, not logged", "parameters": [_ID],
                 "responses": {"200": _json({"type": "object", "properties": {
                     "ok": {"type": "boolean"}, "error": {"type": ["string", "null"]}}}), "404": _NOT_FOUND}},
    },
    "/api/v1/notifications": {
        "get": {"summary": "The delivery log, one row per alert and attempt, newest first (admin)",
                "parameters": [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                                      "default 100"),
                               _query("alert_id", {"type": "string"}, "only this alert"),
                               _query("receiver_id", {"type": "integer"}, "only this receiver"),
                               _query("status", {"enum": list(STATUSES)}, "only this status")],
                "responses": {"200": _json({"type": "array", "items": DELIVERY}),
                              "400": {"description": "bad parameter", "content": _ERROR}}},
    },
}
