"""What attributed AUM costs over a large store, and what one row per account (snapshot and opener) would.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/aum_layout.py --path /tmp/q100m

Reads a chDB store that `bench/queries.py --path DIR` built (it loads nothing itself). AUM by channel needs
every account's latest snapshot (rollup `account_latest`) beside the step-11 event that opened it (rollup
`account_attrs`), both read whole with FINAL and joined by account. Timed here: each read alone, the join
with each of ClickHouse's join algorithms, and, as a what-if, a scratch table holding both per account in
one row (the two rollups' rows inserted into it, as two materialized views would), unmerged and after
OPTIMIZE ... FINAL. The scratch table is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from chdb import session
from report import load_average, table

LATEST = ("Tuple(ts DateTime64(3, 'UTC'), event_id String, h_stock Decimal(18, 2), h_fund Decimal(18, 2), "
          "h_wealth Decimal(18, 2), h_bond Decimal(18, 2), h_cash Decimal(18, 2), level String, "
          "segment String, province String, channel String)")
ALGORITHMS = ("default", "hash", "parallel_hash", "full_sorting_merge", "grace_hash", "partial_merge")
OPENER = "Tuple(ts DateTime64(3, 'UTC'), event_id String, lead_id String, channel String)"
JOINED = """
SELECT tupleElement(a.opener, 'channel') AS c, tupleElement(l.latest, 'level') AS lv,
       sum(tupleElement(l.latest, 'h_stock'))
FROM (SELECT account_id, latest FROM account_latest FINAL) AS l
LEFT JOIN (SELECT account_id, opener FROM account_attrs FINAL) AS a ON a.account_id = l.account_id
GROUP BY c, lv FORMAT Null"""
COMBINED = """
SELECT if(tupleElement(latest, 'channel') != '', tupleElement(latest, 'channel'),
          tupleElement(opener, 'channel')) AS c,
       tupleElement(latest, 'level') AS lv, sum(tupleElement(latest, 'h_stock'))
FROM bench_account_book FINAL
WHERE tupleElement(latest, 'event_id') != ''
GROUP BY c, lv FORMAT Null"""


def timed(s, sql: str, runs: int) -> float:
    """p50 ms of `runs` runs after one warm-up."""
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        s.query(sql, "CSV")
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:]) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", required=True, help="a chDB directory built by bench/queries.py --path")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    load_before = load_average()
    s = session.Session(args.path)
    accounts, openers = (int(v) for v in str(s.query(
        "SELECT (SELECT uniqExact(account_id) FROM account_latest), "
        "(SELECT uniqExact(account_id) FROM account_attrs)", "CSV")).strip().split(","))
    rows = []

    def row(label: str, sql: str) -> None:
        rows.append([label, f"{timed(s, sql, args.runs):,.0f}"])

    row("account_latest FINAL, summed", "SELECT sum(tupleElement(latest, 3)) FROM account_latest FINAL")
    row("account_attrs FINAL, read", "SELECT count(), max(tupleElement(opener, 4)) FROM account_attrs FINAL")
    for algorithm in ALGORITHMS:
        row(f"joined by account ({algorithm})", JOINED + f" SETTINGS join_algorithm = {algorithm!r}")
    s.query("DROP TABLE IF EXISTS bench_account_book")
    s.query(f"CREATE TABLE bench_account_book (account_id String, latest SimpleAggregateFunction(max, "
            f"{LATEST}), opener SimpleAggregateFunction(min, {OPENER})) "
            "ENGINE = AggregatingMergeTree ORDER BY account_id")
    try:
        # neutral halves: a snapshot before any real one, an opener after any real one
        s.query("INSERT INTO bench_account_book SELECT account_id, latest, "
                "(toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), '', '', '') FROM account_latest")
        s.query("INSERT INTO bench_account_book SELECT account_id, "
                "(toDateTime64(0, 3, 'UTC'), '', 0, 0, 0, 0, 0, '', '', '', ''), opener FROM account_attrs")
        row("one row per account, two parts unmerged", COMBINED)
        s.query("OPTIMIZE TABLE bench_account_book FINAL")
        row("one row per account, merged", COMBINED)
    finally:
        s.query("DROP TABLE IF EXISTS bench_account_book")
    print(table(f"AUM by channel and level over {args.path}: {accounts:,} accounts with a snapshot, "
                f"{openers:,} opened; {time.strftime('%Y-%m-%d %H:%M')}, load average before "
                f"{load_before:.2f}, after {os.getloadavg()[0]:.2f}", ["query", "p50 ms"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
