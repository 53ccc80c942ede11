"""Print every row of every table of a chDB store (rollups included; aggregate states as their serialised
bytes), for leak scans: `python tests/chdb_dump.py chdb:///abs/path`. A script of its own because chDB
allows one path per process, and the test process may hold another one."""

from __future__ import annotations

import sys

import clickhouse_connect

TABLES = """SELECT name FROM system.tables
WHERE database = currentDatabase() AND NOT is_temporary AND engine NOT IN ('MaterializedView', 'View')"""


def main(dsn: str) -> None:
    client = clickhouse_connect.get_client(dsn=dsn)
    for (table,) in client.query(TABLES).result_rows:
        sys.stdout.write(f"{table}\n")
        # the name comes from system.tables, not from input
        sys.stdout.write(client.raw_query(f"SELECT * FROM `{table}` FORMAT TabSeparated")
                         .decode("utf-8", "replace"))


if __name__ == "__main__":
    main(sys.argv[1])
