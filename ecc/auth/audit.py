"""The audit trail in the metadata database: who did what, when, from where; never a secret or a phone.

`summary_of` keeps only the names of what was sent and the values of a few harmless fields, and every
summary goes through ecc.contract.pii before it is stored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ecc.auth.models import AuditEntry, utcnow
from ecc.contract import pii

log = logging.getLogger(__name__)

# Values shown as they are; every other field only by its name. Secrets (password, secret, token, url —
# a robot's webhook URL carries its key — to) never qualify.
SAFE_FIELDS = frozenset({"kind", "channel", "step", "enabled", "state", "role", "scopes", "action",
                         "matchers", "ends_at", "starts_at", "idle_hours", "window_hours", "limit", "id",
                         "rule_id", "receiver_id", "alert_id", "label", "user", "name", "format", "from",
                         "to", "province", "baseline", "metric", "interval", "active"})
_SECRET_HINTS = ("pass", "secret", "token", "key", "url", "phone", "to_addr", "authorization", "cookie")
_MAX_VALUE = 120
_MAX_SUMMARY = 2000


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    method: str
    path: str
    status: int | None
    ip: str
    summary: str


def _safe(name: str, value) -> object:
    lowered = name.lower()
    if lowered not in SAFE_FIELDS or any(h in lowered for h in _SECRET_HINTS):
        return "…"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:_MAX_VALUE]


def summary_of(args: dict | None = None, body: object = None) -> str:
    """A short, masked description of a request's parameters: safe fields with values, others by name."""
    parts: dict[str, object] = {}
    for name, value in (args or {}).items():
        parts[name] = _safe(name, value)
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(value, dict) and name.lower() in SAFE_FIELDS:
                parts[name] = {k: _safe(k, v) for k, v in value.items()}
            else:
                parts[name] = _safe(name, value)
    elif isinstance(body, list):
        parts["items"] = len(body)
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True) if parts else ""
    return pii.mask_text(text)[:_MAX_SUMMARY]


def record(engine: Engine, *, actor: str, actor_kind: str, action: str, method: str = "", path: str = "",
           status: int | None = None, ip: str = "", summary: str = "") -> None:
    """Append one entry. A database failure is logged, never raised: the request it describes happened."""
    try:
        with Session(engine) as s, s.begin():
            s.add(AuditEntry(at=utcnow(), actor=pii.mask_text(actor)[:128], actor_kind=actor_kind,
                             action=action, method=method, path=pii.mask_text(path)[:255], status=status,
                             ip=(ip or "")[:64], summary=pii.mask_text(summary)[:_MAX_SUMMARY]))
    except SQLAlchemyError:
        log.exception("audit entry not stored: %s %s by %s", action, path, actor)


def entries(engine: Engine, limit: int = 100, offset: int = 0, actor: str | None = None,
            action: str | None = None) -> list[AuditView]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    with Session(engine) as s:
        return [AuditView(e.id, e.at, e.actor, e.actor_kind, e.action, e.method, e.path, e.status, e.ip,
                          e.summary) for e in s.scalars(query)]
