"""Notification receivers in the metadata database: who hears about alerts, and how.

`{"id", "kind": webhook|wecom|dingtalk|feishu|email, "url"|"to", "secret"?, "enabled"}` (docs/api.md), plus
an optional `name` and `lang` ("zh" | "en"; empty: the installation's ECC_NOTIFY_LANG). Secrets are
write-only: `public()` never shows one (only `has_secret`), and nothing here logs one. A password
written into an SMTP URL is moved to the secret, so it is not shown with the URL either. Secrets are stored
sealed with the installation's key (ecc/alerts/receivers_secrets.py): the functions that write or read one
take the `box`; without a key a secret cannot be saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Boolean, DateTime, Engine, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ecc.alerts import receivers_secrets
from ecc.alerts.notify_formats import KINDS, Target, recipients
from ecc.alerts.receivers_secrets import KEY_VARIABLE, SecretBox, open_secret
from ecc.config import ConfigError, Settings
from ecc.metadata import Base

HTTP_KINDS = ("webhook", "wecom", "dingtalk", "feishu")
LANGS = ("zh", "en")
_FIELDS = {"kind", "name", "url", "to", "secret", "lang", "enabled"}
_IGNORED = {"id", "has_secret", "created_at", "updated_at"}  # what GET shows and a client may echo back


class ReceiverError(ValueError):
    def __init__(self, message: str, detail=None):
        super().__init__(message)
        self.detail = detail


class Receiver(Base):
    __tablename__ = "receivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64), default="")
    url: Mapped[str] = mapped_column(String(1024), default="")
    to: Mapped[str] = mapped_column("to_addrs", String(1024), default="")
    secret: Mapped[str] = mapped_column(String(1024), default="")  # "fernet:<token>" (sealed) or ""
    lang: Mapped[str] = mapped_column(String(8), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:  # never the secret, never the URL (robots carry tokens in it)
        return f"Receiver(id={self.id}, kind={self.kind!r}, enabled={self.enabled})"


def public(r: Receiver) -> dict:
    """The API's view of a receiver: everything but the secret."""
    out: dict = {"id": r.id, "kind": r.kind, "name": r.name or "", "enabled": bool(r.enabled),
                 "lang": r.lang or "", "has_secret": bool(r.secret)}
    if r.kind == "email":
        out["to"] = r.to
        if r.url:
            out["url"] = r.url
    else:
        out["url"] = r.url
    return out


def target(r: Receiver, default_lang: str = "zh", box: SecretBox | None = None) -> Target:
    """What a notifier needs, the secret opened (SecretError when it cannot be: no key, or the wrong one)."""
    return Target(id=r.id, kind=r.kind, url=r.url or "", to=r.to or "",
                  secret=open_secret(box, r.secret or ""), lang=r.lang or default_lang, name=r.name or "")


def _text(body: Mapping, name: str, limit: int) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReceiverError(f"{name} must be a string", {name: type(value).__name__})
    if len(value) > limit:
        raise ReceiverError(f"{name} is longer than {limit} characters")
    return value.strip()


def _smtp_url(url: str) -> tuple[str, str]:
    """(url without a password, the password it carried)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ReceiverError("an e-mail receiver's url is an SMTP server: smtp://host[:port] or smtps://…",
                            {"url": "scheme must be smtp or smtps"})
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:  # e.g. a password with an unescaped "?" or "/": never stored, never echoed
        raise ReceiverError("an e-mail receiver's url has no valid port (a password in it must be "
                            "percent-encoded)", {"url": "invalid port"}) from None
    if parts.password is None:
        return url, ""
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + "@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + netloc[-1])), parts.password


def _apply(r: Receiver, body: Mapping, creating: bool, box: SecretBox | None) -> None:
    if not isinstance(body, Mapping):
        raise ReceiverError("body must be a JSON object")
    unknown = sorted(set(body) - _FIELDS - _IGNORED)
    if unknown:
        raise ReceiverError(f"unknown field(s): {', '.join(unknown)}",
                            {"allowed": sorted(_FIELDS)})
    if creating or "kind" in body:
        kind = body.get("kind")
        if kind not in KINDS:
            raise ReceiverError(f"kind must be one of {', '.join(KINDS)}", {"kind": kind})
        r.kind = kind
    for name, limit in (("name", 64), ("url", 1024), ("to", 1024), ("lang", 8)):
        if name in body or creating:
            setattr(r, name, _text(body, name, limit))
    secret = None  # None: unchanged
    if "secret" in body:
        secret = _text(body, "secret", 512)  # "" or null clears it
    elif creating:
        secret = ""
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise ReceiverError("enabled must be true or false", {"enabled": body["enabled"]})
        r.enabled = body["enabled"]
    elif creating:
        r.enabled = True
    password = _check(r)
    secret = password or secret
    if secret is not None:
        if secret and box is None:
            raise ReceiverError(f"a secret cannot be saved: this installation has no key to seal it with "
                                f"(set {KEY_VARIABLE})", {"secret": "no key"})
        r.secret = box.seal(secret) if secret else ""


def _check(r: Receiver) -> str:
    """Validate; returns a password an SMTP URL carried (moved out of the URL), else ""."""
    if r.lang and r.lang not in LANGS:
        raise ReceiverError("lang must be zh or en (or empty: the installation's default)", {"lang": r.lang})
    if r.kind in HTTP_KINDS:
        parts = urlsplit(r.url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ReceiverError(f"a {r.kind} receiver needs an http(s) url",
                                {"url": "missing or not http(s)"})
        if r.to:
            raise ReceiverError(f"a {r.kind} receiver has a url, not a to", {"to": "only for email"})
        return ""
    addresses = recipients(r.to or "")
    if not addresses or any("@" not in a or " " in a for a in addresses):
        raise ReceiverError("an e-mail receiver needs to: one or more addresses, comma-separated",
                            {"to": "missing or not an e-mail address"})
    r.to = ", ".join(addresses)
    if not r.url:
        return ""
    r.url, password = _smtp_url(r.url)
    return password


def list_receivers(engine: Engine, *, enabled_only: bool = False) -> list[Receiver]:
    with Session(engine, expire_on_commit=False) as session:
        query = select(Receiver).order_by(Receiver.id)
        if enabled_only:
            query = query.where(Receiver.enabled.is_(True))
        return list(session.scalars(query))


def get_receiver(engine: Engine, receiver_id: int) -> Receiver | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(Receiver, receiver_id)


def create_receiver(engine: Engine, body: Mapping, box: SecretBox | None = None) -> dict:
    now = datetime.now(UTC)
    r = Receiver(created_at=now, updated_at=now)
    _apply(r, body, creating=True, box=box)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(r)
    return public(r)


def update_receiver(engine: Engine, receiver_id: int, body: Mapping,
                    box: SecretBox | None = None) -> dict | None:
    """Change only the fields sent (a PUT without `secret` keeps the secret). None: no such receiver."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        r = session.get(Receiver, receiver_id)
        if r is None:
            return None
        _apply(r, body, creating=False, box=box)
        r.updated_at = datetime.now(UTC)
    return public(r)


def delete_receiver(engine: Engine, receiver_id: int) -> bool:
    with Session(engine) as session, session.begin():
        r = session.get(Receiver, receiver_id)
        if r is None:
            return False
        session.delete(r)
        return True


def seal_stored(engine: Engine, box: SecretBox) -> int:
    """Seal plain secrets and re-seal those under an older key; raise SecretError if one opens with none of
    the keys. Returns how many rows changed."""
    changed = plain = 0
    with Session(engine) as session:
        rows = session.execute(select(Receiver.id, Receiver.secret).where(Receiver.secret != "")).all()
    for receiver_id, stored in rows:
        if box.is_current(stored):
            continue
        sealed = box.seal(box.open(stored))  # SecretError here: a key is missing from ECC_SECRET_KEY
        with Session(engine) as session, session.begin():
            result = session.execute(update(Receiver).where(Receiver.id == receiver_id,
                                                            Receiver.secret == stored).values(secret=sealed))
        changed += result.rowcount
        if result.rowcount and not stored.startswith(receivers_secrets.PREFIX):
            plain += 1
    if plain and engine.dialect.name == "sqlite":
        # The replaced text stays in the file's free space until overwritten: rebuild the file once, so the
        # database file holds no secret in clear. (PostgreSQL keeps dead row versions until its own
        # VACUUM; docs/alerts.md says to rotate secrets saved in clear there.)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM")
    return changed


def check_start(engine: Engine, settings: Settings | None) -> SecretBox | None:
    """At a web process's start: the box (secrets sealed and readable), or a ConfigError that says what to
    set. No key and no stored secret is fine (None)."""
    box = receivers_secrets.box_for(settings)
    if box is not None:
        try:
            seal_stored(engine, box)
        except receivers_secrets.SecretError as exc:
            raise ConfigError(f"receivers: {exc}") from None
        return box
    with Session(engine) as session:
        count = len(session.scalars(select(Receiver.id).where(Receiver.secret != "")).all())
    if count:
        raise ConfigError(f"{count} notification receiver(s) have a secret and there is no key to seal or "
                          f"open it: set {KEY_VARIABLE} (the key they were saved with; for secrets saved "
                          f"before sealing existed, a new long random one)")
    return None
