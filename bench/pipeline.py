"""Pipeline benchmark on the embedded stack: broker -> stream worker -> Redis, and broker -> sink -> chDB.

    .venv/bin/python bench/pipeline.py            # ~5 minutes on 2 cores
    .venv/bin/python bench/pipeline.py --quick    # ~1-2 minutes

Phases on one `ecc.embedded.Stack` (tansu, Valkey, `ecc worker`, the web process with the sink):
1. throughput: N validated events published as fast as possible; the time until Redis and ClickHouse hold
   all of them gives events/s for the worker and for the sink separately; beside them the broker's own
   consume rate (a bare consumer reading the same N events);
2. steady: `--rate` events/s for `--seconds`; event->Redis latency p50/p99 of the lead events in the stream;
3. surge: 10 x `--rate` for `--surge-seconds`; the same latencies, and the time for the lag to drain;
4. backfill: `--backfill` events of yesterday published at full speed while today's are paced at `--rate`:
   today's latency with the backfill on the history topic (as the door routes it), then on today's topic.

Events come from the simulator (a realistic mix of leads, calls, steps, money), are validated once before
any clock starts and serialised with `Event.to_json()`: the figures measure the pipeline, not the door.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from confluent_kafka import Consumer
from pipeline_parts import HOUR_MS, Expected, Probe, cpu_snapshot, make_events
from report import load_average, pct, table

from ecc import timeutil
from ecc.config import Settings
from ecc.contract.events import Event
from ecc.embedded import Stack, free_port
from ecc.transport.kafka import Publisher, today_start_ms

log = logging.getLogger("bench.pipeline")
SAMPLE_S = 0.01  # Redis `leads` counter sampling period of the latency phases
FULL_CHECK_S = 0.05  # period of the complete Redis comparison (one HGETALL per day)
SINK_CHECK_S = 0.25  # period of /api/v1/health polls (each one also queries chDB: keep it light)
CATCH_UP_TIMEOUT_S = 300.0


# ---- phases ----

@dataclass
class Outcome:
    published_s: float  # from the first send to the last send (flush for the throughput phase)
    redis_s: float | None  # from the first send until Redis held everything (None: timed out)
    sink_s: float | None  # the same for ClickHouse (sink `inserted`)
    drain_redis_s: float | None = None  # from the last send until Redis caught up
    drain_sink_s: float | None = None
    latencies: list[float] = field(default_factory=list)


def wait_caught_up(probe: Probe, want: Expected, sink_target: int, t0: float,
                   sampler=None) -> tuple[float | None, float | None]:
    """Poll until Redis and ClickHouse hold every event sent; times are seconds since t0 (perf_counter)."""
    redis_at = sink_at = None
    next_full = next_sink = time.perf_counter()
    deadline = time.perf_counter() + CATCH_UP_TIMEOUT_S
    while (redis_at is None or sink_at is None) and time.perf_counter() < deadline:
        now = time.perf_counter()
        if sampler is not None:
            sampler(now)
        if redis_at is None and now >= next_full:
            if probe.redis_missing(want) == 0:
                redis_at = time.perf_counter() - t0
            next_full = now + FULL_CHECK_S
        if sink_at is None and now >= next_sink:
            if probe.sink_inserted() >= sink_target:
                sink_at = time.perf_counter() - t0
            next_sink = now + SINK_CHECK_S
        time.sleep(SAMPLE_S if sampler is not None else 0.01)
    if redis_at is None:
        log.error("Redis did not catch up within %.0fs: %d fields differ", CATCH_UP_TIMEOUT_S,
                  probe.redis_missing(want))
    if sink_at is None:
        log.error("sink did not catch up within %.0fs: %d of %d inserted", CATCH_UP_TIMEOUT_S,
                  probe.sink_inserted(), sink_target)
    return redis_at, sink_at


def prepare(events: list[Event]) -> list[tuple[str, bytes, bool]]:
    """(key, payload, is_lead) per event: serialised before any clock starts (to_json is ~30 us/event)."""
    return [(e.key, e.to_json(), e.type == "lead") for e in events]


def burst(pub: Publisher, settings: Settings, probe: Probe, want: Expected, events: list[Event],
          payloads: list[tuple[str, bytes, bool]]) -> Outcome:
    """Publish everything at once; the pipeline then works off the backlog at its top speed."""
    for e in events:
        want.add(e)
    t0 = time.perf_counter()
    for key, value, _ in payloads:
        pub.send(settings.topic_events, key, value)
    pub.flush(120)
    published = time.perf_counter() - t0
    redis_s, sink_s = wait_caught_up(probe, want, want.sent, t0)
    return Outcome(published, redis_s, sink_s)


def paced(pub: Publisher, settings: Settings, probe: Probe, want: Expected, events: list[Event],
          rate: float) -> Outcome:
    """Publish at `rate` events/s and sample Redis' `leads` counter every SAMPLE_S.

    Latency of the k-th lead of the phase = (first sample at which the counter has grown by >= k) -
    (publish time of the k-th lead). Why this is fair: the counter is a count of *distinct* leads and
    every lead of the phase is new, so it grows by exactly one per lead applied and never moves
    otherwise; reading the k-th crossing against the k-th publish is the horizontal distance between the
    "published" and "applied" curves, i.e. the delay of an equivalent first-in-first-out pipeline. When
    partitions deliver a later lead before an earlier one the pairing swaps individual values, but the
    distribution moves by at most that reordering (a worker batch, <= 0.2 s); the estimate is late by up
    to one sampling period (10 ms) plus one HGET round trip, never early.
    """
    payloads = prepare(events)
    days = sorted({timeutil.day_key(e.ts_ms) for e in events if e.type == "lead"})
    base_leads = probe.leads(days)
    for e in events:
        want.add(e)
    lead_sent: list[float] = []
    sample_t: list[float] = []
    sample_v: list[int] = []
    next_sample = 0.0

    def sample(now: float) -> None:
        nonlocal next_sample
        if now >= next_sample:
            sample_t.append(now)
            sample_v.append(probe.leads(days) - base_leads)
            next_sample = now + SAMPLE_S

    t0 = time.perf_counter()
    sent = 0
    while sent < len(payloads):
        now = time.perf_counter()
        due = min(len(payloads), int((now - t0) * rate) + 1)
        while sent < due:  # a tick's worth (at most a few ms of events) goes out back to back
            key, value, is_lead = payloads[sent]
            if is_lead:
                lead_sent.append(time.perf_counter())
            pub.send(settings.topic_events, key, value)
            sent += 1
        sample(time.perf_counter())
        time.sleep(0.002)
    t_end = time.perf_counter()
    redis_s, sink_s = wait_caught_up(probe, want, want.sent, t0, sampler=sample)
    pub.flush(30)  # only now: a blocking flush during the run would stall the sampling
    while sample_v[-1] < len(lead_sent) and time.perf_counter() - t_end < CATCH_UP_TIMEOUT_S:
        sample(time.perf_counter())  # the full check may pass between two samples: take one more
        time.sleep(SAMPLE_S)
    latencies = []
    for k, sent_at in enumerate(lead_sent, 1):
        i = bisect.bisect_left(sample_v, k)  # the counter only grows, so the samples are sorted
        if i < len(sample_v):
            latencies.append(sample_t[i] - sent_at)
    published = t_end - t0
    return Outcome(published, redis_s, sink_s,
                   None if redis_s is None else redis_s - published,
                   None if sink_s is None else sink_s - published, latencies)


def broker_rate(settings: Settings, n: int) -> float | None:
    """The broker's own consume rate: a bare confluent-kafka consumer reads n messages of the events
    topic from the start and does nothing with them (the ceiling any consumer of this broker has)."""
    c = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-rate-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "fetch.wait.max.ms": 50})
    c.subscribe([settings.topic_events])
    got, t0 = 0, None
    deadline = time.monotonic() + 120
    try:
        while got < n and time.monotonic() < deadline:
            batch = c.consume(5000, 0.5)
            if batch and t0 is None:
                t0 = time.perf_counter()  # from the first message: the group join is not the broker's rate
            got += sum(1 for m in batch if not m.error())
        return None if t0 is None or got < n else n / (time.perf_counter() - t0)
    finally:
        c.close()


def backfill(settings: Settings, probe: Probe, want: Expected, today: list[Event], history: list[Event],
             rate: float, topic: str) -> tuple[Outcome, float]:
    """Today's events paced at `rate` while `history` (past days) is published to `topic` as fast as the
    broker takes it, from another thread: today's latency during a backfill, and the backfill's duration
    (seconds from the start until Redis held all of it and today's events)."""
    for e in history:
        want.add(e)
    payloads = prepare(history)
    loader = Publisher(settings)
    done: dict[str, float] = {}

    def load() -> None:
        t = time.perf_counter()
        for key, value, _ in payloads:
            loader.send(topic, key, value)
        loader.flush(120)
        done["published"] = time.perf_counter() - t

    thread = threading.Thread(target=load, name="bench-backfill")
    pub = Publisher(settings)
    thread.start()
    outcome = paced(pub, settings, probe, want, today, rate)
    thread.join()
    return outcome, done.get("published", float("nan"))


# ---- report ----

def rate_or_dash(n: int, seconds: float | None) -> str:
    return "timeout" if seconds is None else f"{n / seconds:,.0f}"


def secs(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, help="events of the throughput phase (default 300000, quick 60000)")
    p.add_argument("--rate", type=float, default=2000.0, help="steady events/s; the surge offers 10x this")
    p.add_argument("--seconds", type=float, help="steady phase length (default 30, quick 10)")
    p.add_argument("--surge-seconds", type=float, help="surge phase length (default 10, quick 5)")
    p.add_argument("--workers", type=int, default=1, help="stream worker processes (the stack starts one)")
    p.add_argument("--backfill", type=int, help="events of yesterday loaded during the backfill phases "
                   "(default 400000, quick 100000; 0 skips them)")
    p.add_argument("--quick", action="store_true", help="small sizes: finishes in about 1-2 minutes")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    n = args.events or (60_000 if args.quick else 300_000)
    steady_s = args.seconds or (10.0 if args.quick else 30.0)
    surge_s = args.surge_seconds or (5.0 if args.quick else 10.0)
    surge_rate = 10 * args.rate
    n_backfill = (100_000 if args.quick else 400_000) if args.backfill is None else args.backfill

    load_before = load_average()
    tmp = tempfile.mkdtemp(prefix="ecc-bench-")
    os.chdir(tmp)  # faust writes its data dir into the cwd: keep it out of the repository
    settings = Settings(data_dir=tmp, phone_hash_key="bench")  # the stack and the generator share it
    log.info("generating and validating %d + %d + %d events", n, int(args.rate * steady_s),
             int(surge_rate * surge_s))
    warm = make_events(2_000, "bw", settings.phone_hash_key)
    bulk = make_events(n, "bt", settings.phone_hash_key)
    steady = make_events(int(args.rate * steady_s), "bs", settings.phone_hash_key)
    surge = make_events(int(surge_rate * surge_s), "bx", settings.phone_hash_key)
    # Backfill phases: yesterday's events (history), and today's since midnight paced at --rate (its leads
    # are the only ones of today's key the latency probe reads). Twice: on the history topic (what the
    # door does now) and on today's topic (one shared queue, as before the history topic existed).
    today_h = min(6.0, (timeutil.now_ms() - today_start_ms()) / HOUR_MS)
    backfills = []
    if n_backfill and today_h > 0.05:
        for tag, topic in (("h", settings.topic_history), ("s", settings.topic_events)):
            backfills.append((topic, make_events(n_backfill, f"bh{tag}", settings.phone_hash_key,
                                                 end_ms=today_start_ms() - 1),
                              make_events(int(args.rate * steady_s), f"bp{tag}", settings.phone_hash_key,
                                          window_h=today_h)))
    elif n_backfill:
        log.warning("backfill phases skipped: today (Shanghai) began less than 3 minutes ago")
    mix = defaultdict(int)
    for e in bulk:
        mix[e.type] += 1

    with Stack(settings, port=free_port(), simulate=False) as stack:
        pub = Publisher(stack.settings)
        probe = Probe(stack)
        want = Expected()
        # Warm-up: both consumer groups joined and assigned before any clock starts.
        for i in range(2, args.workers + 1):  # more consumers of the same group: faust rebalances
            stack.ecc(f"worker-{i}", "worker")
        if args.workers > 1:
            time.sleep(10)  # let the group settle (rebalance timeout 3 s) before the warm-up
        w = burst(pub, stack.settings, probe, want, warm, prepare(warm))
        log.info("warm-up caught up: redis %s s, sink %s s", secs(w.redis_s), secs(w.sink_s))
        bulk_payloads = prepare(bulk)
        cpu0 = cpu_snapshot(stack)
        tp = burst(pub, stack.settings, probe, want, bulk, bulk_payloads)
        cpu1 = cpu_snapshot(stack)
        broker = broker_rate(stack.settings, n)
        log.info("throughput phase done; steady phase at %.0f/s", args.rate)
        st = paced(pub, stack.settings, probe, want, steady, args.rate)
        log.info("steady phase done; surge at %.0f/s", surge_rate)
        sg = paced(pub, stack.settings, probe, want, surge, surge_rate)
        bf = []
        for topic, history, today in backfills:
            log.info("backfill phase: %d events of yesterday on %s, today's at %.0f/s", len(history), topic,
                     args.rate)
            bf.append((topic, len(history), *backfill(stack.settings, probe, want, today, history, args.rate,
                                                      topic)))
        dead = stack.check()
        if dead:
            log.error("stack parts died during the run: %s", dead)
    ok = not dead and all(o.redis_s is not None and o.sink_s is not None
                          for o in (tp, st, sg, *(b[2] for b in bf)))
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        log.error("kept the stack's files and logs for a look: %s", tmp)

    print()
    print(f"ECC pipeline benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"{args.workers} stream worker(s); "
          f"event mix: " + ", ".join(f"{k} {v / len(bulk):.0%}" for k, v in sorted(mix.items())))
    print(f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f} "
          "(other processes on the machine distort every figure)")
    print()
    print(table(f"1. Sustained throughput ({n:,} events published at once)",
                ["stage", "seconds", "events/s"], [
        ["publish (confluent-kafka -> tansu)", secs(tp.published_s), rate_or_dash(n, tp.published_s)],
        ["Redis caught up (worker + Lua)", secs(tp.redis_s), rate_or_dash(n, tp.redis_s)],
        ["ClickHouse caught up (sink -> chDB)", secs(tp.sink_s), rate_or_dash(n, tp.sink_s)],
        ["broker alone (bare consumer, no work)", "-" if broker is None else f"{n / broker:.2f}",
         "timeout" if broker is None else f"{broker:,.0f}"],
    ]))
    print()
    spent = tp.redis_s or 1.0
    print(table("   CPU seconds during the throughput phase",
                ["process", "cpu s", "cores busy", "cpu us/event"],
                [[name, f"{cpu1[name] - cpu0[name]:.1f}", f"{(cpu1[name] - cpu0[name]) / spent:.2f}",
                  f"{(cpu1[name] - cpu0[name]) / n * 1e6:.0f}"] for name in cpu1]))
    print()
    rows = []
    for name, o, r, s in (("steady", st, args.rate, steady_s), ("surge x10", sg, surge_rate, surge_s)):
        lat = o.latencies
        rows.append([name, f"{r:,.0f}", f"{s:.0f}", f"{len(lat)}",
                     *(f"{pct(lat, q):.3f}" if lat else "-" for q in (0.5, 0.99)),
                     f"{max(lat):.3f}" if lat else "-", secs(o.drain_redis_s), secs(o.drain_sink_s)])
    print(table("2. Event -> Redis latency of lead events (seconds) and lag drain after the last publish",
                ["phase", "offered/s", "s", "leads", "p50", "p99", "max", "drain redis", "drain clickhouse"],
                rows))
    print()
    if bf:
        rows = []
        for topic, size, o, published in bf:
            lat = o.latencies
            rows.append([topic, f"{size:,}", f"{published:.1f}", secs(o.redis_s), secs(o.sink_s),
                         f"{len(lat)}", *(f"{pct(lat, q):.3f}" if lat else "-" for q in (0.5, 0.99)),
                         f"{max(lat):.3f}" if lat else "-"])
        print(table(f"3. Today's event -> Redis latency (today's leads at {args.rate:,.0f}/s for "
                    f"{steady_s:.0f} s) while yesterday is backfilled; seconds from the phase's start",
                    ["backfill topic", "events", "published", "all in Redis", "all in ClickHouse",
                     "today's leads", "p50", "p99", "max"], rows))
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
