"""Access in the OpenAPI document (merged into ecc/web/openapi.py): the ways to authenticate (bearer token,
session cookie, kiosk token), /api/v1/audit and /api/v1/me, and on every operation who may call it.

Each operation's least role comes from THE access table (ecc/auth/policy.py), never from a second list
here, so the document cannot drift from what the guard enforces: a public operation says `security: []`;
any other names the schemes, its role (`x-ecc-role`, and in the description) and its 401/403 answers.
"""

from __future__ import annotations

import re

from ecc.auth import policy
from ecc.auth.guard import KIOSK_COOKIE
from ecc.auth.roles import PUBLIC, ROLES, SCOPES
from ecc.auth.sessions import COOKIE as SESSION_COOKIE

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "Programs: `Authorization: Bearer <token>` (`ecc token create --kind bearer`). "
                              "A token has a role and optional scopes (`events:write` for POST "
                              "/api/v1/events); shown once at creation, stored hashed, revocable."},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "Browsers: the HTTP-only session cookie set by logging in at /login (a local "
                               "user or single sign-on). State-changing requests must come from this site "
                               "(Origin / Sec-Fetch-Site checked: docs/security.md)."},
    "kiosk": {"type": "apiKey", "in": "cookie", "name": KIOSK_COOKIE,
              "description": "Wall screens: a read-only (viewer) kiosk token, opened once as `?token=...` "
                             "on a page, then kept in this cookie; revocable by an admin."},
}
# Any one of them (OpenAPI: alternatives are separate requirement objects).
SECURITY = [{"bearer": []}, {"session": []}, {"kiosk": []}]
RESPONSES = {
    "401": {"description": "no credentials, or an unknown, revoked or expired one", "content": _ERROR},
    "403": {"description": "the caller's role (or token scope) may not; or a cross-site browser request",
            "content": _ERROR},
}
_TOO_MANY = {"description": "this token's rate limit (requests a minute) is spent",
             "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
             "content": _ERROR}

_ENTRY = {"type": "object", "properties": {
    "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
    "actor": {"type": "string", "description": "user name, token:<id>, cli:<os user> or anonymous"},
    "actor_kind": {"type": "string", "examples": ["session", "bearer", "kiosk", "cli", "none"]},
    "action": {"type": "string", "examples": ["login", "login.failed", "logout", "export", "change"]},
    "method": {"type": "string"}, "path": {"type": "string"}, "status": {"type": "integer"},
    "ip": {"type": "string"},
    "summary": {"type": "string", "description": "what changed; never a secret or a phone"}}}
_ME = {"type": "object", "properties": {
    "name": {"type": "string"}, "role": {"enum": list(ROLES)},
    "source": {"enum": ["local", "oidc", "token", "none"]},
    "kind": {"enum": ["session", "kiosk", "bearer", "anonymous"]},
    "scopes": {"type": "array", "items": {"enum": list(SCOPES)}}}}


def _int(name: str, description: str) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "integer"}, "description": description}


PATHS = {
    "/api/v1/audit": {"get": {
        "summary": "Audit trail (admin), newest first: logins, failed logins, logouts, exports of the "
                   "call-back list, every state-changing call, user and token changes",
        "parameters": [_int("limit", "1..1000, default 100"), _int("offset", "default 0"),
                       {"name": "actor", "in": "query", "schema": {"type": "string"}},
                       {"name": "action", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"items": {"type": "array", "items": _ENTRY}}}}}},
            "400": {"description": "bad parameter", "content": _ERROR}}}},
    "/api/v1/me": {"get": {
        "summary": "Who the caller is: name, role, source, kind of credential, scopes",
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": _ME}}}}}},
}

_TEMPLATE = re.compile(r"\{[^}]*\}")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def level_of(method: str, path: str) -> str:
    """The least role of an OpenAPI operation (path template "{id}"), from the access table; what the table
    does not list is for admins (as the guard fails closed)."""
    rule = policy.route_rule(method.upper(), _TEMPLATE.sub("<>", path))
    return rule.level if rule is not None else policy.UNKNOWN


def secure(document: dict) -> dict:
    """`document` with the security schemes and, on every operation, its security and 401/403 answers."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = SECURITY
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            level = level_of(method, path)
            operation["x-ecc-role"] = level
            if level == PUBLIC:
                operation["security"] = []
                continue
            rule = policy.route_rule(method.upper(), _TEMPLATE.sub("<>", path))
            needs = f"Needs role {level}" + (f" and scope {rule.scope}" if rule and rule.scope else "") + "."
            operation["description"] = (operation.get("description", "") + "\n\n" + needs).strip()
            for status, answer in RESPONSES.items():
                operation.setdefault("responses", {}).setdefault(status, answer)
            if rule is not None and rule.scope:  # the ingest endpoint: a rate limit per token
                operation["responses"].setdefault("429", _TOO_MANY)
    return document


__all__ = ["PATHS", "RESPONSES", "SECURITY", "SECURITY_SCHEMES", "level_of", "secure"]
