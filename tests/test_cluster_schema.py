"""The cluster form of the schema (ecc.olap.cluster_schema) rendered beside the one-server form from the same
queries/schema.sql: same tables and columns, same views, every table reachable under its own name.

No ClickHouse server (let alone a cluster) can run here (DESIGN.md): this checks the rendering. The
columns are also compared with what chDB made of the one-server form (`ch` fixture)."""

from __future__ import annotations

import re

import pytest

from ecc.olap import clickhouse, cluster_schema

CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)(?: ON CLUSTER (\w+))?(?: AS (\w+))?\n(\(.*?\n\))?",
                    re.DOTALL)
ENGINE = re.compile(r"^ENGINE = (\w+)(?:\((.*)\))?$", re.MULTILINE)
VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)(?: ON CLUSTER (\w+))? TO (\w+) AS\n(.*)",
                  re.DOTALL)


def tables(statements):
    out = {}
    for s in statements:
        sql = "\n".join(line for line in s.splitlines() if not line.startswith("--")).strip()
        if m := CREATE.match(sql):
            name, cluster, like, columns = m.groups()
            engine, args = ENGINE.search(sql).groups()
            out[name] = {"cluster": cluster, "like": like, "columns": columns, "engine": engine, "args": args}
        elif not sql.startswith("CREATE MATERIALIZED VIEW"):
            raise AssertionError(f"unexpected statement {sql[:60]!r}")
    return out


def views(statements):
    bare = ("\n".join(ln for ln in s.splitlines() if not ln.startswith("--")).strip() for s in statements)
    return {m.group(1): (m.group(2), m.group(3), m.group(4)) for sql in bare if (m := VIEW.match(sql))}


def column_names(columns: str) -> list[str]:
    return [line.split()[0] for line in columns.strip("()\n").splitlines()
            if line.strip() and line.startswith("    ") and not line.startswith("     ")
            and not line.strip().startswith("INDEX")]


def test_both_forms_declare_the_same_tables_columns_and_views():
    single = clickhouse.schema_statements()
    cluster = clickhouse.schema_statements("ecc_cluster")
    one, many = tables(single), tables(cluster)
    assert set(one) == set(clickhouse.TABLES)
    assert set(many) == set(one) | {f"{t}_local" for t in one}
    for name, table in one.items():
        local, dist = many[f"{name}_local"], many[name]
        assert local["columns"] == table["columns"], name  # the same column text, types included
        assert local["engine"] == f"Replicated{table['engine']}" and local["cluster"] == "ecc_cluster"
        assert f"/clickhouse/tables/{{shard}}/{{database}}/{name}_local" in local["args"]
        assert dist["engine"] == "Distributed" and dist["like"] == f"{name}_local"
        key = cluster_schema.SHARD_KEYS[name]
        assert dist["args"] == f"ecc_cluster, currentDatabase(), {name}_local, {key}"
        # the shard key names only columns of the table (string literals and function names aside)
        key_columns = set(re.findall(r"\b([a-z_]+)\b(?!\()", re.sub(r"'[^']*'", "", key)))
        assert key_columns <= set(column_names(table["columns"])), (name, key_columns)
    one_views, many_views = views(single), views(cluster)
    assert set(one_views) == set(many_views) and len(one_views) == len(clickhouse.rollup_views())
    for name, (_, target, select) in one_views.items():
        on, many_target, many_select = many_views[name]
        assert on == "ecc_cluster" and many_target == f"{target}_local"
        # the same SELECT, over each shard's own events
        assert many_select == select.replace("FROM events\n", "FROM events_local\n")


def test_single_form_columns_are_what_chdb_created(ch):
    for name, table in tables(clickhouse.schema_statements()).items():
        described = [row[0] for row in ch.query(f"DESCRIBE TABLE {name}").result_rows]
        assert described == column_names(table["columns"]), name


def test_backfill_and_comments_in_cluster_form():
    statements = clickhouse.rollup_backfill(["lead_attrs"], "ecc_cluster")
    assert statements[0].startswith("INSERT INTO lead_attrs\nSELECT")  # the Distributed table: shards by key
    assert statements[1] == "ALTER TABLE lead_attrs ON CLUSTER ecc_cluster MODIFY COMMENT 'backfilled'"


@pytest.mark.parametrize("bad", ["", "ecc; DROP TABLE events", "a-b", "1x", "ecc cluster"])
def test_cluster_name_must_be_an_identifier(bad):
    with pytest.raises(cluster_schema.ClusterNameError):
        clickhouse.schema_statements(bad) if bad else cluster_schema.check_name(bad)


def test_configuration_chooses_the_form():
    """ECC_CLICKHOUSE_CLUSTER is a setting (docs/configuration.md) and picks the form apply_schema renders."""
    from ecc.config import Settings

    one = Settings.from_env({}).clickhouse_cluster
    many = Settings.from_env({"ECC_CLICKHOUSE_CLUSTER": "ecc_cluster"}).clickhouse_cluster
    assert (one, many) == ("", "ecc_cluster")
    assert not any("ON CLUSTER" in s for s in clickhouse.schema_statements(one or None))
    rendered = clickhouse.schema_statements(many)
    assert all(" ON CLUSTER ecc_cluster" in s for s in rendered)
    # every rollup of the one-server form, the per-lead progress of the cohort funnel included
    assert {f"{t}_local" for t in clickhouse.TABLES} <= set(tables(rendered))
    assert "lead_progress" in clickhouse.TABLES
