"""Fault benchmark: kill -9 each part of a real `ecc demo` in the middle of a burst and print, per fault,
how long Redis (the wall) and ClickHouse (the API) took to equal the oracle again, and the leads lost.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/faults.py               # 10k events a fault, ~4 min
    flock /tmp/ecc-bench.lock .venv/bin/python bench/faults.py --events 3000 # quicker

The fault runs are those of tests/test_faults.py (tests/faultlab.py, the oracle of tests/oracle.py), with
bigger bursts: a baseline without fault, the worker, the web process (which runs the sink), Redis, a
hostile scenario POSTed beside the burst, and last the broker (memory-only in the demo: what it loses
stays lost, so it goes last and its row is the figure of that loss). Times run from the fault (from the
end of publishing for the baseline) to the moment the store equals the oracle; "—" = not within the
timeout. 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from report import load_average, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from faultlab import Demo, burst_events, run_fault

FAULTS = ("none", "worker", "web", "redis", "hostile", "broker")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=10_000, help="events in each burst")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for convergence")
    p.add_argument("--faults", default=",".join(FAULTS),
                   help=f"comma-separated subset of {', '.join(FAULTS)}")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_before = load_average()
    data = Path(tempfile.mkdtemp(prefix="ecc-bench-faults-"))
    demo = Demo(data).start()
    rows, history, ok = [], [], True
    try:
        for seed, fault in enumerate(args.faults.split(","), start=101):
            result = run_fault(demo, fault, history, burst_events(seed, args.events), timeout=args.timeout)
            logging.info("%s", result)
            rows.append(result.row())
            ok = ok and result.restarted and (fault == "broker" or None not in (result.redis_s,
                                                                                 result.clickhouse_s))
    finally:
        demo.stop()
    print()
    print(f"ECC fault benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"{args.events} events a burst, fault a third of the way in; load {load_before:.2f} → "
          f"{load_average():.2f}")
    print(table("time to converge (s) and leads lost, cumulative over the runs",
                ["fault", "events", "redis_s", "clickhouse_s", "lost_redis", "lost_clickhouse", "restarted"],
                rows))
    if ok:
        shutil.rmtree(data, ignore_errors=True)
    else:
        print(f"kept the demo's files and logs for a look: {data}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
