"""Can two clickhouse-connect clients on one chDB path in one process run queries at the same time?

    flock /tmp/ecc-bench.lock .venv/bin/python bench/chdb_sessions.py [--rows 3000000]

Loads `--rows` synthetic rows into a scratch chDB path, then times a short query (the sink's kind: a
primary-key lookup and a small insert) alone, and again while a long aggregation (a drill-down's kind)
runs in another thread: (a) on the same client, (b) on a second client of the same path, (c) both through
one `clickhouse.ClientPool` of 3 clients (what the web process uses). If (b) and (c) stay near "alone"
while (a) waits for the long query, the sink can have its own client and never wait for a drill-down, and
one user's long query does not queue the others'. Prints one table; nothing is left behind (the scratch
path is removed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time

import clickhouse_connect
from report import pct, table

from ecc.olap.clickhouse import ClientPool

LONG = ("SELECT k % 1000 AS g, uniqExact(k), sum(v) FROM t GROUP BY g ORDER BY g "
        "SETTINGS max_threads = 2")


def short_ops(client, n: int) -> list[float]:
    """Latencies (s) of n sink-like operations: an id lookup, then a 100-row insert."""
    out = []
    for i in range(n):
        started = time.perf_counter()
        client.query("SELECT count() FROM t WHERE k IN {ids:Array(UInt64)}", parameters={"ids": [i, i + 7]})
        client.insert("s", [[i * 100 + j] for j in range(100)], column_names=["k"])
        out.append(time.perf_counter() - started)
    return out


def during_long(long_client, short_client, n: int) -> tuple[list[float], float]:
    """Short-op latencies while LONG runs in a loop on `long_client`, and the long query's mean time."""
    stop, long_times = threading.Event(), []

    def loop():
        while not stop.is_set():
            started = time.perf_counter()
            long_client.query(LONG)
            long_times.append(time.perf_counter() - started)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(0.3)  # let the long query start first
    try:
        lat = short_ops(short_client, n)
    finally:
        stop.set()
        thread.join(timeout=120)
    return lat, sum(long_times) / max(1, len(long_times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--ops", type=int, default=30)
    args = ap.parse_args()
    path = tempfile.mkdtemp(prefix="ecc-chdb-sessions-")
    try:
        dsn = f"chdb://{path}"
        first = clickhouse_connect.get_client(dsn=dsn)
        first.command("CREATE TABLE t (k UInt64, v Decimal(18, 2)) ENGINE = MergeTree ORDER BY k")
        first.command("CREATE TABLE s (k UInt64) ENGINE = MergeTree ORDER BY k")
        first.command(f"INSERT INTO t SELECT number, number % 997 / 100 FROM numbers({args.rows})")
        second = clickhouse_connect.get_client(dsn=dsn)  # a second handle on the same engine path
        assert second.command("SELECT count() FROM t") == args.rows
        started = time.perf_counter()
        first.query(LONG)
        long_alone = time.perf_counter() - started
        alone = short_ops(first, args.ops)
        same, long_same = during_long(first, first, args.ops)
        other, long_other = during_long(first, second, args.ops)
        pool = ClientPool(dsn, 3)
        pooled, long_pooled = during_long(pool, pool, args.ops)
        def row(name: str, lat: list[float], long_s: float) -> list[str]:
            return [name, *(f"{x * 1000:.1f}" for x in (pct(lat, .5), pct(lat, .95), max(lat), long_s))]
        rows = [row("alone", alone, long_alone), row("same client as the long query", same, long_same),
                row("second client, same path", other, long_other),
                row("pool of 3 clients, same pool", pooled, long_pooled)]
        print(table(f"chDB sessions: {args.rows:,} rows, {args.ops} short ops (id lookup + 100-row insert), "
                    f"load average {os.getloadavg()[0]:.2f}",
                    ["short op", "p50 ms", "p95 ms", "max ms", "long query ms"], rows))
        first.close()
        second.close()
        pool.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
