"""THE access table: every route of the app (Flask url_map rules: pages, /api/v1/*, Dash's endpoints,
assets) and every Dash callback, mapped to the least role allowed (contract: docs/api.md, Access).

Routes are keyed by method and rule with converters blanked (`/api/v1/alerts/<int:id>/ack` and
`/api/v1/alerts/<alert_id>/ack` are both `/api/v1/alerts/<>/ack`), so that the table does not depend on
how a blueprint names its parameters. A route missing here is refused to everyone but admins at run time
and fails tests/test_auth_policy.py, so a new endpoint cannot ship without a decision.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ecc.auth.roles import PUBLIC, highest

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
UNKNOWN = ADMIN  # fail closed: what nobody classified is for admins only


@dataclass(frozen=True)
class Rule:
    level: str  # PUBLIC or a role
    scope: str | None = None  # a bearer token needs this scope as well (events:write)
    audit: str | None = None  # an audit action recorded for every call (exports), beyond state changes


def _rules(level: str, *pairs: str, **extra) -> dict[tuple[str, str], Rule]:
    out = {}
    for pair in pairs:
        methods, path = pair.split(" ", 1)
        for method in methods.split(","):
            out[(method, path)] = Rule(level, **extra)
    return out


ROUTES: dict[tuple[str, str], Rule] = {
    # Public: health probes, Prometheus, the login page and the static files it needs (CSS, no data).
    **_rules(PUBLIC, "GET /api/v1/health", "GET /metrics", "GET,POST /login", "GET,POST /logout",
             "GET /assets/<>", "GET /_favicon.ico"),
    # Single sign-on (ecc/auth/oidc.py): the way to the provider and back, before anyone is logged in.
    **_rules(PUBLIC, "GET /auth/oidc/login", "GET /auth/oidc/callback"),
    # Viewer: the wall, sub-screens and drill-down (pages, Dash's own endpoints, read-only API).
    **_rules(VIEWER, "GET /", "GET /<>", "GET /static/<>", "GET /_dash-layout", "GET /_dash-dependencies",
             "GET /_dash-component-suites/<>/<>", "GET /_reload-hash", "POST /_dash-update-component",
             "GET /api/v1/kpis", "GET /api/v1/channels", "GET /api/v1/funnel", "GET /api/v1/assets",
             "GET /api/v1/series", "GET /api/v1/rejects", "GET /api/v1/openapi.json",
             "GET /api/v1/alerts", "GET /api/v1/alerts/<>", "GET /api/v1/silences",
             "GET /api/v1/alert-rules", "GET /api/v1/alert-rules/<>", "GET /api/v1/me",
             # /api/<path> answers an unknown path with a JSON 404 (or 405): to those who may ask.
             "GET,POST,PUT,PATCH,DELETE /api/<>"),
    # Programs that post events: any role, but the token needs the events:write scope.
    **_rules(VIEWER, "POST /api/v1/events", scope="events:write"),
    # Operator: acknowledge, silence, the call-back list (JSON and CSV exports), the delivery log.
    **_rules(OPERATOR, "GET /api/v1/funnel/dropped", audit="export"),
    **_rules(OPERATOR, "POST /api/v1/alerts/<>/ack", "POST /api/v1/silences", "DELETE /api/v1/silences/<>",
             "PUT /api/v1/silences/<>", "GET /api/v1/silences/<>", "GET /api/v1/notifications"),
    # Admin: rules, receivers, channels, users, tokens, the audit trail.
    **_rules(ADMIN, "POST /api/v1/alert-rules", "PUT,PATCH,DELETE /api/v1/alert-rules/<>",
             "GET,POST /api/v1/receivers", "GET,PUT,PATCH,DELETE /api/v1/receivers/<>",
             "POST /api/v1/receivers/<>/test",
             "POST /api/v1/channels", "PUT,PATCH,DELETE /api/v1/channels/<>", "GET /api/v1/audit",
             "GET /admin", "POST /admin/users", "POST /admin/users/<>", "POST /admin/tokens",
             "POST /admin/tokens/<>/revoke"),
}

# Dash callbacks, by the id of an output (a pattern-matching id by its "type"): an entry ending in "-" is
# a prefix of a family of ids, any other entry one id. A callback needs the strictest level of its outputs.
CALLBACKS: tuple[tuple[str, str], ...] = (
    # the shell: router, language, fit, and navigation that writes the URL
    ("page-content", VIEWER), ("lang-store", VIEWER), ("fit-store", VIEWER), ("url", VIEWER),
    # the wall and sub-screens only read the live snapshot (layouts/screens.py: FIG, HTML, KPI_*)
    ("wall-", VIEWER), ("kpi-", VIEWER), ("screen-", VIEWER), ("sub-", VIEWER), ("drill-", VIEWER),
    ("ecc-fig", VIEWER), ("ecc-html", VIEWER), ("ecc-kpi", VIEWER), ("ecc-kpi-", VIEWER),
    # the on-call alerts page (layouts/alerts_page.py, its CALLBACK_ROLES): viewers read alerts and
    # silences; operators ack and silence; admins edit rules and receivers and read the delivery log
    ("ap-alerts", VIEWER), ("ap-silences", VIEWER), ("ap-op-", OPERATOR), ("ap-sil-", OPERATOR),
    ("ap-rules", ADMIN), ("ap-receivers", ADMIN), ("ap-log", ADMIN), ("ap-admin-", ADMIN),
    ("ap-rule-", ADMIN), ("ap-rcv-", ADMIN),
    # families any screen may use for changes
    ("ack-", OPERATOR), ("silence-", OPERATOR), ("admin-", ADMIN),
)

_CONVERTER = re.compile(r"<[^>]*>")


def normalise(rule: str) -> str:
    return _CONVERTER.sub("<>", rule)


def route_rule(method: str, rule: str | None) -> Rule | None:
    """The rule of a matched url_map rule (HEAD as GET); None when the table has none."""
    if rule is None:
        return None
    method = "GET" if method == "HEAD" else method
    return ROUTES.get((method, normalise(rule)))


def _id_name(raw: str) -> str:
    """A component id as written in a callback's output key: a string, or a pattern-matching dict in JSON
    (then its "type", the conventional name of the component family)."""
    if raw.startswith("{"):
        try:
            value = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(value, dict):
            return str(value.get("type", ""))
    return raw


def output_ids(output_key: str) -> list[str]:
    """Component ids of a Dash callback's output key: "id.prop" or "..id1.prop1...id2.prop2..", exactly the
    key Dash dispatches the request on (so the check and the callback run cannot disagree)."""
    key = output_key.strip()
    parts = key[2:-2].split("...") if key.startswith("..") and key.endswith("..") else [key]
    return [_id_name(part.rsplit(".", 1)[0]) for part in parts if part]


def callback_level(component_id: str) -> str | None:
    for entry, level in CALLBACKS:
        if component_id == entry or (entry.endswith("-") and component_id.startswith(entry)):
            return level
    return None


def callback_rule(output_key: str) -> tuple[str, list[str]]:
    """(level, ids without a rule) of the callback with this output key."""
    ids = output_ids(output_key)
    levels = [callback_level(i) for i in ids]
    missing = [i for i, level in zip(ids, levels, strict=True) if level is None]
    return highest([level or UNKNOWN for level in levels] or [UNKNOWN]), missing
