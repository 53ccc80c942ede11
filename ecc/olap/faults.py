"""Transient or permanent: what a consumer does when a store refuses a batch.

- Transient: the store is unreachable, busy or not ready (connection refused or reset, timeouts, too many
  queries, a missing table while an operator migrates). Retrying the same batch later will work, so the
  consumer retries with backoff and never commits past it: acknowledging would lose the batch.
- Permanent: this data cannot be stored (a value the column refuses, a type error, too many partitions in
  one insert). Retrying the same batch fails forever and stops the stream behind it ("poison batch"), so the
  consumer splits the batch, stores what can be stored and dead-letters the rest with the store's reason.

The decision is a table of ClickHouse error names (the server's symbolic names, also given by chDB) and of
exception types, not string matching, except for one code that ClickHouse uses for two different things.
"""

from __future__ import annotations

import struct
from decimal import InvalidOperation

import redis
from clickhouse_connect.driver import exceptions as ch_errors

# ClickHouse errors that say "not now", not "not this data". A missing table or database and refused
# credentials are here too: they hold for every row, so dead-lettering row by row would empty the stream
# into the dead-letter store; retrying and showing the error is what an operator needs.
CLICKHOUSE_TRANSIENT = frozenset({
    "TIMEOUT_EXCEEDED", "SOCKET_TIMEOUT", "NETWORK_ERROR", "ALL_CONNECTION_TRIES_FAILED",
    "TOO_MANY_SIMULTANEOUS_QUERIES", "MEMORY_LIMIT_EXCEEDED", "CANNOT_ALLOCATE_MEMORY", "NOT_ENOUGH_SPACE",
    "TABLE_IS_READ_ONLY", "READONLY", "TABLE_IS_DROPPED", "UNKNOWN_TABLE", "UNKNOWN_DATABASE",
    "AUTHENTICATION_FAILED", "ACCESS_DENIED", "UNKNOWN_USER", "REQUIRED_PASSWORD", "KEEPER_EXCEPTION",
    "ABORTED", "QUERY_WAS_CANCELLED", "SERVER_OVERLOADED", "NO_FREE_CONNECTION",
    "DISTRIBUTED_TOO_MANY_PENDING_BYTES", "TOO_MANY_QUERIES", "CANNOT_SCHEDULE_TASK",
    "UNEXPECTED_PACKET_FROM_SERVER", "CANNOT_READ_FROM_SOCKET", "CANNOT_WRITE_TO_SOCKET", "CANNOT_OPEN_FILE",
})
# TOO_MANY_PARTS (252) means either "this INSERT spans too many partitions" (permanent: the data decides)
# or "the table has too many active parts, merges are behind" (transient: wait for the merges).
_TOO_MANY_PARTS = "TOO_MANY_PARTS"
_MERGES_BEHIND = "merges are processing significantly slower"

# Python-side errors of building a row from an event: the event's values do not fit the columns.
_PERMANENT_TYPES = (ValueError, TypeError, ArithmeticError, InvalidOperation, struct.error, OverflowError,
                    KeyError, ch_errors.DataError, ch_errors.ProgrammingError)
_TRANSIENT_TYPES = (ConnectionError, TimeoutError, OSError, ch_errors.OperationalError,
                    ch_errors.StreamFailureError, ch_errors.StreamClosedError, ch_errors.InterfaceError)
# Redis: the server is down, restarting, loading its data or read-only (a replica during failover).
REDIS_TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, redis.ReadOnlyError,
                   redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError)


class StoreFault(Exception):
    """A store refused a batch; `reason` is the store's own message, shortened."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransientFault(StoreFault):
    """Retry the same batch later; do not commit past it."""


class PermanentFault(StoreFault):
    """This data cannot be stored: split it, dead-letter what still fails."""


def describe(exc: BaseException, limit: int = 500) -> str:
    """`Type: message` on one line, at most `limit` characters (for stats, logs and dead letters)."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clickhouse_error_name(exc: BaseException) -> str | None:
    return getattr(exc, "name", None) if isinstance(exc, ch_errors.Error) else None


def classify(exc: BaseException) -> type[StoreFault]:
    """TransientFault or PermanentFault for an exception raised while storing a batch in ClickHouse."""
    if isinstance(exc, StoreFault):
        return type(exc)
    name = clickhouse_error_name(exc)
    if name == _TOO_MANY_PARTS:
        return TransientFault if _MERGES_BEHIND in str(exc).lower() else PermanentFault
    if name in CLICKHOUSE_TRANSIENT:
        return TransientFault
    if name is not None:
        return PermanentFault  # the server named what is wrong with this data
    # Without a name: transport failures are transient; DataError and friends are subclasses of
    # DatabaseError, so the permanent types are checked first.
    if isinstance(exc, _PERMANENT_TYPES):
        return PermanentFault
    if isinstance(exc, _TRANSIENT_TYPES + REDIS_TRANSIENT):
        return TransientFault
    return PermanentFault


def as_fault(exc: BaseException) -> StoreFault:
    """The typed fault for `exc`, keeping its description as the reason."""
    if isinstance(exc, StoreFault):
        return exc
    return classify(exc)(describe(exc))
