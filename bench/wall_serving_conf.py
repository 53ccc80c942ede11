"""gunicorn configuration of bench/wall_serving.py's server: every worker opens a chDB of its own.

Production's workers share a ClickHouse server. There is none on this machine, and the embedded chDB
admits one process per path, so each worker gets an empty one under ECC_BENCH_CHDB_BASE: the wall's
refresh reads Redis, which all workers share as in production. The auth refusal of `ecc web` applies too.
`ecc web`'s post_worker_init (each worker starts an alert evaluator and an outbox sweeper, issue 9) is left
out: here they would share the stack's metadata database with the stack's own evaluator, and run against
the workers' empty chDB; the figures are those of serving the wall, without that background work.
"""

from __future__ import annotations

import os

from ecc.auth.gunicorn_conf import on_starting  # noqa: F401  (gunicorn reads the hook from this module)


def post_fork(server, worker) -> None:
    base = os.environ["ECC_BENCH_CHDB_BASE"]
    os.environ["ECC_CLICKHOUSE_DSN"] = f"chdb://{base}/chdb-worker-{worker.age}"
