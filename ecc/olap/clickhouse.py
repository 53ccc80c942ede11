"""Thin adapter over clickhouse-connect: one client path for chDB (embedded) and a ClickHouse server.

- `connect(dsn)`: `chdb:///abs/path` opens an in-process chDB engine at that path; `http(s)://…` a
  server. chDB locks its path (one OS process per path) and allows one engine path per process, so a
  process opens one chDB client and shares it between its threads.
- Locking (`locked(client)`): a chDB client is one handle on the process's engine and serves one call at
  a time, so calls through this module hold its lock; but chDB runs queries of *different* handles on the
  same path at once (bench/chdb_sessions.py), so a part that must not wait for another (the sink beside
  the web's drill-down) opens its own client, and the web process lends one client of a `ClientPool` per
  query (`connect_shared`). An HTTP client sends session-less queries over a pool of connections and may
  run them side by side: no lock at all.
- SQL lives in `queries/<name>.sql` (`load_query`), values are always bound server-side
  (`{name:Type}` with `parameters=`), never formatted into the text. A piece shared by several queries
  is written once in `queries/parts/<piece>.sql` and pulled in by a line `-- include: <piece>`
  (`load_query` composes the text; tests/test_sql_snapshots.py keeps a copy of every composed query).
- The rollups' backfill is derived from the materialized views of schema.sql (`rollup_backfill`): the
  views' own SELECTs, so a view and its backfill cannot drift apart.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from ecc.contract.events import Event, Rejection
from ecc.olap import cluster_schema

log = logging.getLogger(__name__)

# Column order of `events` and `rejects` in queries/schema.sql.
EVENT_COLUMNS = (
    "event_id", "type", "ts", "received_at", "channel", "lead_id", "account_id", "step", "status",
    "reason", "outcome", "caller", "amount", "direction", "first", "product", "province", "city",
    "device", "campaign", "level", "segment", "h_stock", "h_fund", "h_wealth", "h_bond", "h_cash",
    "phone_masked", "phone_hash",
)
HOLDING_COLUMNS = ("stock", "fund", "wealth", "bond", "cash")  # h_<class>
REJECT_COLUMNS = ("reject_id", "received_at", "source", "reason", "raw")
# Every table of queries/schema.sql: events, dead letters and the rollups kept from events.
TABLES = ("events", "rejects", "lead_attrs", "account_attrs", "facts_hourly", "lead_calls",
          "account_deposits", "account_latest", "lead_progress")
_INCLUDE = re.compile(r"^-- include: (\w+)[ \t]*$", re.MULTILINE)
_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\s*\n(.*)", re.DOTALL)

# client -> its lock, or None for a client that needs none (HTTP); a client not made by `connect` gets one.
_locks: weakref.WeakKeyDictionary[Any, threading.RLock | None] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


class DsnError(ValueError):
    """A ClickHouse DSN this adapter cannot use."""


def connect(dsn: str) -> Client:
    """A clickhouse-connect client for `chdb:///abs/path` or `http(s)://user:pass@host:port/db`.

    Returned datetimes are timezone-aware (UTC), so no caller depends on the process time zone.
    """
    if dsn.startswith("chdb://"):
        path = dsn.removeprefix("chdb://")
        if not path.startswith("/"):
            raise DsnError(f"chDB DSN needs an absolute path, e.g. chdb:///var/ecc/chdb: {dsn!r}")
        client = clickhouse_connect.get_client(dsn=dsn, tz_mode="aware")
        lock: threading.RLock | None = threading.RLock()  # one handle serves one call at a time
        log.info("opened chDB at %s", path)
    elif dsn.startswith(("http://", "https://")):
        # No server session: session-less HTTP queries may run side by side without "session is locked".
        client = clickhouse_connect.get_client(dsn=dsn, tz_mode="aware", autogenerate_session_id=False)
        lock = None
        parts = urlsplit(dsn)
        log.info("connected to ClickHouse server %s:%s", parts.hostname, parts.port)  # no credentials
    else:
        raise DsnError(f"unsupported ClickHouse DSN (use chdb:///abs/path or http(s)://…): {dsn!r}")
    with _locks_guard:
        _locks[client] = lock
    return client


def _lock_of(client: Any) -> threading.RLock | None:
    with _locks_guard:
        if client not in _locks:
            _locks[client] = threading.RLock()
        return _locks[client]


@contextmanager
def locked(client: Any) -> Iterator[Any]:
    """Hold the client's lock (if it has one) for a sequence of calls that belong together."""
    lock = _lock_of(client)
    if lock is None:
        yield client
        return
    with lock:
        yield client


class ClientPool:
    """Several chDB clients on one path, one lent per call: a query waits only when every client is busy,
    so one user's long drill-down does not queue the others' (chDB runs queries of different clients at
    once). Quacks like a client for this module's functions (`query`, `command`, `insert`)."""

    def __init__(self, dsn: str, size: int):
        if size < 1:
            raise ValueError(f"a pool needs at least one client, got {size}")
        self.clients = [connect(dsn) for _ in range(size)]
        self._idle: queue.LifoQueue = queue.LifoQueue()  # the warmest client first
        for client in self.clients:
            self._idle.put(client)
        with _locks_guard:
            _locks[self] = None  # each lent client is used by one caller at a time already

    @contextmanager
    def lend(self) -> Iterator[Client]:
        client = self._idle.get()
        try:
            yield client
        finally:
            self._idle.put(client)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        with self.lend() as client:
            return client.query(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        with self.lend() as client:
            return client.command(*args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        with self.lend() as client:
            return client.insert(*args, **kwargs)

    def close(self) -> None:
        for client in self.clients:
            client.close()


def connect_shared(dsn: str, pool_size: int = 3) -> Client | ClientPool:
    """A client for many threads (the web process): a ClickHouse server's HTTP client runs concurrent
    session-less queries itself; for chDB, a pool of `pool_size` clients on the one path."""
    if dsn.startswith("chdb://"):
        return ClientPool(dsn, pool_size)
    return connect(dsn)


@cache
def load_query(name: str) -> str:
    """The text of queries/<name>.sql (package data, so it works from an installed wheel too), with
    every `-- include: <piece>` line replaced by queries/parts/<piece>.sql (itself composed)."""
    return _compose(resources.files("queries").joinpath(f"{name}.sql").read_text(encoding="utf-8"), ())


def _compose(text: str, seen: tuple[str, ...]) -> str:
    def piece(match: re.Match) -> str:
        name = match.group(1)
        if name in seen:
            raise ValueError(f"queries/parts/{name}.sql includes itself ({' -> '.join((*seen, name))})")
        part = resources.files("queries").joinpath("parts", f"{name}.sql").read_text(encoding="utf-8")
        return _compose(part.rstrip("\n"), (*seen, name))
    return _INCLUDE.sub(piece, text)


def rollup_views() -> list[tuple[str, str, str]]:
    """(view, target table, SELECT) of every materialized view of schema.sql, in file order."""
    found = (_VIEW.match(statement) for statement in split_statements(load_query("schema")))
    return [(m.group(1), m.group(2), m.group(3).strip()) for m in found if m]


def rollup_backfill(tables: Iterable[str], cluster: str | None = None) -> list[str]:
    """Statements that fill these rollups from the stored events: each view's own SELECT into its
    table, then the comment that says the backfill is complete (set last: a run cut short runs again).
    In the cluster form the names are the Distributed tables: all shards' events are read, and each
    row goes to the shard its entity lives on (ecc.olap.cluster_schema.SHARD_KEYS)."""
    wanted = set(tables)
    views = [(table, select) for _, table, select in rollup_views() if table in wanted]
    return ([f"INSERT INTO {table}\n{select}" for table, select in views]
            + [cluster_schema.comment_statement(table, cluster) for table, _ in views])


def schema_statements(cluster: str | None = None) -> list[str]:
    """The DDL of queries/schema.sql for one server, or its cluster form (ecc.olap.cluster_schema)."""
    statements = split_statements(load_query("schema"))
    return cluster_schema.render(statements, cluster) if cluster else statements


def split_statements(text: str) -> list[str]:
    """Statements of a multi-statement file, separated by lines holding only ';'."""
    statements, current = [], []
    for line in text.splitlines():
        if line.strip() == ";":
            statements.append("\n".join(current))
            current = []
        else:
            current.append(line)
    statements.append("\n".join(current))
    # A chunk made only of comments is not a statement.
    return [s.strip() for s in statements if _has_sql(s)]


def _has_sql(chunk: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())


def apply_schema(client: Any, cluster: str | None = None) -> None:
    """Create the tables and rollups of queries/schema.sql (idempotent: CREATE … IF NOT EXISTS), then
    backfill any rollup still marked 'backfill pending' from the stored events (`rollup_backfill`: its
    view already exists, so nothing is missed; min/max tuples and uniqExact states are idempotent, so
    an event both backfilled and seen by the view, or a second backfill, changes nothing).

    `cluster` (the setting ECC_CLICKHOUSE_CLUSTER, `Settings.clickhouse_cluster`; None or empty for one
    server) names a ClickHouse cluster: the schema is then created in its cluster form on every node
    (ecc.olap.cluster_schema)."""
    cluster = cluster or None
    with locked(client):
        for statement in schema_statements(cluster):
            client.command(statement)
        rollups = [table for _, table, _ in rollup_views()]
        pending = [row[0] for row in client.query(load_query("rollups_pending"),
                                                  parameters={"tables": rollups}).result_rows]
        if pending:
            log.info("backfilling rollups %s from stored events", ", ".join(sorted(pending)))
            for statement in rollup_backfill(pending, cluster):
                client.command(statement)
    log.debug("schema applied")


def truncate_all(client: Any) -> None:
    """Empty every table, rollups included (tests and benchmarks: a rollup left behind by a TRUNCATE of
    `events` alone would keep attributing to events that are gone)."""
    with locked(client):
        for table in TABLES:
            client.command(load_query("truncate"), parameters={"table": table})


def ping(client: Any) -> bool:
    """True when the store answers a trivial query (health checks; never raises)."""
    try:
        with locked(client):
            return client.command("SELECT 1") == 1
    except Exception as exc:
        log.warning("ClickHouse ping failed: %s", exc)
        return False


def query_rows(client: Any, name: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """Run queries/<name>.sql with bound parameters; rows as dicts keyed by column name."""
    with locked(client):
        result = client.query(load_query(name), parameters=parameters)
    names = result.column_names
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]


# ---- events ----

def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def event_row(event: Event, received_ms: int) -> list[Any]:
    """One `events` row, in EVENT_COLUMNS order."""
    holdings = [Decimal(event.holdings.get(cls, "0")) for cls in HOLDING_COLUMNS]
    return [
        event.event_id, event.type, _utc(event.ts_ms), _utc(received_ms), event.channel, event.lead_id,
        event.account_id, event.step, event.status, event.reason, event.outcome, event.caller,
        Decimal(event.amount or "0"), event.direction, int(event.first), event.product, event.province,
        event.city, event.device, event.campaign, event.level, event.segment, *holdings,
        event.phone_masked, event.phone_hash,
    ]


def insert_events(client: Any, events: Sequence[Event], received_ms: int | None = None) -> int:
    """Insert one batch (one part: always batch, a row at a time makes a part per row).

    `received_at` is `received_ms` when given (the sink's clock), else now. The caller de-duplicates
    with `existing_ids` first; the table's ReplacingMergeTree key is only the second line of defence.
    """
    if not events:
        return 0
    received = received_ms if received_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    rows = [event_row(event, received) for event in events]
    with locked(client):
        client.insert("events", rows, column_names=list(EVENT_COLUMNS))
    log.debug("inserted %d events", len(rows))
    return len(rows)


def existing_ids(client: Any, ids: Iterable[str]) -> set[str]:
    """Which of these event_ids are already stored (one query, primary-key lookup)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = query_rows(client, "existing_event_ids", {"ids": wanted})
    return {row["event_id"] for row in rows}


# ---- dead letters ----

def reject_row(rejection: Rejection) -> list[Any]:
    return [rejection.reject_id, _utc(rejection.received_ms), rejection.source, rejection.reason,
            rejection.raw]


def insert_rejects(client: Any, rejections: Sequence[Rejection]) -> int:
    if not rejections:
        return 0
    rows = [reject_row(rejection) for rejection in rejections]
    with locked(client):
        client.insert("rejects", rows, column_names=list(REJECT_COLUMNS))
    log.debug("inserted %d rejects", len(rows))
    return len(rows)


def existing_reject_ids(client: Any, ids: Iterable[str]) -> set[str]:
    """Which of these reject_ids are already stored (a redelivered dead letter is stored once)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = query_rows(client, "existing_reject_ids", {"ids": wanted})
    return {row["reject_id"] for row in rows}


# ---- reading events back (the live store's rebuild) ----

def stored_event(row: dict[str, Any]) -> Event:
    """An Event from a row of queries/live_rebuild_by_*.sql (the fields the live store reads)."""
    holdings = {cls: row[f"h_{cls}"] for cls in HOLDING_COLUMNS} if row["type"] == "asset" else {}
    return Event(event_id=row["event_id"], type=row["type"], ts_ms=int(row["ts_ms"]), channel=row["channel"],
                 lead_id=row["lead_id"], account_id=row["account_id"], step=int(row["step"]),
                 status=row["status"], outcome=row["outcome"], direction=row["direction"],
                 first=bool(row["first"]), product=row["product"], amount=row["amount"], holdings=holdings)


def live_window_page(client: Any, order: str, since_ms: int, after: tuple[int, str], limit: int
                     ) -> list[dict[str, Any]]:
    """Events with ts >= since_ms after the cursor `after` = (ms, event_id), ordered by `order`:
    "ts" (history) or "received" (what the sink stored after a moment)."""
    name = {"ts": "live_rebuild_by_ts", "received": "live_rebuild_by_received"}[order]
    return query_rows(client, name, {"since_ms": since_ms, "after_ms": after[0], "after_id": after[1],
                                     "limit": limit})


def live_window_count(client: Any, since_ms: int) -> int:
    return int(query_rows(client, "live_rebuild_count", {"since_ms": since_ms})[0]["count()"])
