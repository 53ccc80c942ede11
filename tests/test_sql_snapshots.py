"""Snapshots of the SQL the code sends: every composed queries/*.sql (parts included) and the rollup
backfill derived from schema.sql, compared with a stored copy in tests/sql_snapshots/.

A change to a query or a shared part shows up here as a diff of every query it touches. Update the
copies deliberately, after reading that diff:

    ECC_UPDATE_SQL_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_sql_snapshots.py -p no:cacheprovider
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest

from ecc.olap import clickhouse

SNAPSHOTS = Path(__file__).parent / "sql_snapshots"
UPDATE = os.environ.get("ECC_UPDATE_SQL_SNAPSHOTS") == "1"
QUERIES = sorted(p.name[:-4] for p in resources.files("queries").iterdir() if p.name.endswith(".sql"))
PARTS = sorted(p.name[:-4] for p in resources.files("queries").joinpath("parts").iterdir()
               if p.name.endswith(".sql"))


def sent(name: str) -> str:
    if name == "rollup_backfill":  # not a file: derived from the views of schema.sql
        tables = [table for _, table, _ in clickhouse.rollup_views()]
        return "\n;\n".join(clickhouse.rollup_backfill(tables)) + "\n"
    return clickhouse.load_query(name)


@pytest.mark.parametrize("name", [*QUERIES, "rollup_backfill"])
def test_sql_sent_matches_snapshot(name):
    path = SNAPSHOTS / f"{name}.sql"
    text = sent(name)
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot for {name}: run with ECC_UPDATE_SQL_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{name}: the SQL sent changed (see the module doc)"


def test_every_snapshot_has_its_query():
    assert {p.stem for p in SNAPSHOTS.glob("*.sql")} == {*QUERIES, "rollup_backfill"}


def test_parts_are_used_and_composed():
    composed = {name: clickhouse.load_query(name) for name in QUERIES}
    for part in PARTS:
        raw = {name for name in QUERIES
               if f"-- include: {part}\n" in resources.files("queries").joinpath(f"{name}.sql").read_text()}
        assert raw, f"parts/{part}.sql is included by no query"
    assert not any("-- include:" in text for text in composed.values())  # every include resolved


def test_backfill_is_each_views_own_select():
    views = clickhouse.rollup_views()
    assert {table for _, table, _ in views} == set(clickhouse.TABLES) - {"events", "rejects"}
    statements = clickhouse.rollup_backfill(["lead_attrs"])
    select = next(s for _, table, s in views if table == "lead_attrs")
    assert statements == [f"INSERT INTO lead_attrs\n{select}",
                          "ALTER TABLE lead_attrs MODIFY COMMENT 'backfilled'"]


def test_an_include_cycle_is_refused():
    with pytest.raises(ValueError, match="includes itself"):
        clickhouse._compose("-- include: lead_dim\n", ("lead_dim",))
