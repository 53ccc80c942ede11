"""The cluster form of queries/schema.sql: the same tables, columns and views, rendered for ClickHouse
servers with shards and replicas (production beyond one server; docs/deploy.md "ClickHouse cluster").

Each table `T` of schema.sql becomes
- `T_local` on every node (`ON CLUSTER`), engine `Replicated<Engine>` with the usual `{shard}`/`{replica}`
  macros, same columns, partitioning and order;
- `T` itself a `Distributed` table over `T_local`, so that every query of queries/ and every insert
  keeps its table names. Rows go to a shard by a key chosen so that everything a per-entity rollup keeps
  for one lead or account lands on one shard: the views run on each shard over that shard's events
  (`FROM events_local`), and `FINAL` only merges the rows of one shard.
- A view `V TO T` becomes `V ON CLUSTER TO T_local … FROM events_local`: the rollups are kept on each
  shard and merged by the queries (uniqExact states merge across shards; min/max tuples of one entity
  live on one shard).

Chosen by configuration: ECC_CLICKHOUSE_CLUSTER (`ecc.config.Settings.clickhouse_cluster`; empty: one
server), which the web process and the sink pass to `ecc.olap.clickhouse.apply_schema(client,
cluster=…)`. The cluster name is an identifier checked against `[A-Za-z_][A-Za-z0-9_]*`; DDL cannot bind
it as a parameter. No server runs on the development machines: tests/test_cluster_schema.py checks the
rendering, not a cluster.
"""

from __future__ import annotations

import re

# Shard key per table: a lead's events (its lead, steps, calls) on one shard, an account's own events
# (deposits, assets, trades) on one shard; a rollup's rows follow the events that feed it.
SHARD_KEYS = {
    "events": "cityHash64(if(lead_id != '', lead_id, account_id))",
    "rejects": "cityHash64(reject_id)",
    "lead_attrs": "cityHash64(lead_id)",
    "account_attrs": "cityHash64(tupleElement(opener, 'lead_id'))",  # step 11 is a lead's event
    "facts_hourly": "rand()",  # states merge across shards: any shard will do
    "lead_calls": "cityHash64(lead_id)",
    "account_deposits": "cityHash64(account_id)",
    "account_latest": "cityHash64(account_id)",
    "lead_progress": "cityHash64(lead_id)",  # a lead's steps are on its shard (events' key)
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\n(\(.*\))\nENGINE = (\w+)\n(.*)", re.DOTALL)
_VIEW = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\s*\n(.*)", re.DOTALL)
_COMMENT = re.compile(r"\nCOMMENT ('[^']*')\s*$")


class ClusterNameError(ValueError):
    """A cluster name that is not a plain identifier."""


def check_name(cluster: str) -> str:
    if not _NAME.match(cluster):
        raise ClusterNameError(f"cluster name must be an identifier, got {cluster!r}")
    return cluster


def render(statements: list[str], cluster: str) -> list[str]:
    """The cluster form of schema.sql's statements (comments before a statement are dropped)."""
    cluster = check_name(cluster)
    out: list[str] = []
    for statement in statements:
        sql = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        table, view = _TABLE.match(sql), _VIEW.match(sql)
        if table:
            name, columns, engine, rest = table.groups()
            comment = _COMMENT.search(rest)
            rest = _COMMENT.sub("", rest) if comment else rest
            path = f"'/clickhouse/tables/{{shard}}/{{database}}/{name}_local', '{{replica}}'"
            out.append(f"CREATE TABLE IF NOT EXISTS {name}_local ON CLUSTER {cluster}\n{columns}\n"
                       f"ENGINE = Replicated{engine}({path})\n{rest.strip()}")
            out.append(f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {cluster} AS {name}_local\n"
                       f"ENGINE = Distributed({cluster}, currentDatabase(), {name}_local, {SHARD_KEYS[name]})"
                       + (f"\nCOMMENT {comment.group(1)}" if comment else ""))
        elif view:
            name, target, select = view.groups()
            select = re.sub(r"\bFROM events\b", "FROM events_local", select)
            out.append(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} ON CLUSTER {cluster}"
                       f" TO {target}_local AS\n{select}")
        else:
            raise ValueError(f"schema.sql statement with no cluster form: {sql[:60]!r}")
    return out


def comment_statement(table: str, cluster: str | None) -> str:
    """Mark a rollup backfilled (on every node in the cluster form)."""
    on = f" ON CLUSTER {check_name(cluster)}" if cluster else ""
    return f"ALTER TABLE {table}{on} MODIFY COMMENT 'backfilled'"
