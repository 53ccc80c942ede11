"""The faust stream worker as its own process: raw-topic gate, live counters, and kill -9 recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
import redis
from oracle import Oracle, make_call, make_lead, make_step
from waiting import wait_until

from ecc.live.live_store import LiveStore
from ecc.timeutil import TZ, today
from ecc.transport import kafka
from ecc.transport.ingest import Door
from ecc.transport.kafka import Publisher

pytestmark = pytest.mark.e2e


@pytest.fixture
def worker_settings(settings, broker, valkey_url, request):
    tag = request.node.name[:40]
    s = settings.with_(kafka_bootstrap=broker, redis_url=valkey_url, topic_raw=f"raw.{tag}",
                       topic_events=f"events.{tag}", topic_rejects=f"rejects.{tag}",
                       topic_history=f"history.{tag}")
    kafka.ensure_topics(s)
    redis.Redis.from_url(valkey_url).flushdb()
    return s


def start_worker(s) -> subprocess.Popen:
    env = {**os.environ, **s.to_env(), "ECC_LOG_LEVEL": "WARNING"}
    with open(os.path.join(s.data_dir, "worker.log"), "ab") as log:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "ecc.cli", "worker"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)




def burst(n_leads: int, prefix: str = "K") -> list[dict]:
    """Today's leads, each with a call and steps 1..3, at times a little in the past."""
    base = time.time() - 3600
    events = []
    for i in range(n_leads):
        t = lambda s, i=i: time.strftime(  # noqa: E731
            "%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(base + i * 0.01 + s + 8 * 3600))
        lead = f"{prefix}{i}"
        events += [make_lead(lead, t(0), channel="douyin" if i % 3 else "wechat"),
                   make_call(lead, t(1), outcome="connected" if i % 2 else "busy")]
        events += [make_step(lead, k, t(k + 1), channel="douyin" if i % 3 else "wechat")
                   for k in range(1, 4 if i % 4 else 12)]
    return events


def live_counts(store: LiveStore) -> dict:
    t = store.snapshot()["totals"]
    return {"leads": t["leads"], "dialed": t["dialed_leads"], "reach": t["reach"], "opened": t["opened"]}


def oracle_counts(events) -> dict:
    day = datetime.combine(today(), datetime.min.time(), TZ)
    k = Oracle(events).kpis(day, day + timedelta(days=1))
    return {"leads": k["leads"], "dialed": k["dialed_leads"], "reach": k["reach"], "opened": k["opened"]}


def test_raw_topic_gate_validates_and_counts(worker_settings):
    s = worker_settings
    proc = start_worker(s)
    try:
        events = burst(20)
        pub = Publisher(s)
        for e in events:
            pub.send(s.topic_raw, e["lead_id"], json.dumps(e, ensure_ascii=False).encode())
        pub.send(s.topic_raw, None, b'{"event_id": "x", "type": "lead"}')
        pub.flush()
        store = LiveStore.from_url(s.redis_url)
        want = oracle_counts(events)
        assert wait_until(lambda: live_counts(store) == want, 60), (live_counts(store), want)
        assert wait_until(lambda: store.rate("rejected") > 0, 20)
    finally:
        proc.terminate()
        proc.wait(20)


def test_kill_9_mid_stream_converges(worker_settings):
    """kill -9 in the middle of a burst, restart: no loss, no double count (idempotent live store)."""
    s = worker_settings
    events = burst(3000)
    want = oracle_counts(events)
    store = LiveStore.from_url(s.redis_url)
    proc = start_worker(s)
    door = Door(s)
    door.publish_objects(events, "test")
    assert wait_until(lambda: store.snapshot()["totals"]["leads"] > 0, 60)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    partial = live_counts(store)
    door.publish_objects(events[: len(events) // 2], "test")  # and a redelivery burst on top
    proc = start_worker(s)
    try:
        assert wait_until(lambda: live_counts(store) == want, 30), (live_counts(store), want, partial)
    finally:
        proc.terminate()
        proc.wait(20)


def test_gate_fetch_wait_is_short(worker_settings, redis_client):
    """faust fixes aiokafka's fetch wait at 1.5 s and tansu answers a waiting fetch only when it runs out:
    the gate's consumer must be built with the short wait instead (a real consumer of a real app)."""
    from streams.app import FETCH_WAIT_MS, create_app

    app = create_app(worker_settings, LiveStore(redis_client))

    async def build():  # aiokafka objects are made inside a running loop
        return app.consumer._thread._create_worker_consumer(app.transport)

    consumer = asyncio.run(build())
    assert consumer._fetch_max_wait_ms == FETCH_WAIT_MS < 1500


def test_backfill_of_yesterday_goes_by_the_history_topic_and_counts(worker_settings):
    """The door routes events before today to the history topic; the worker counts them on their own day."""
    s = worker_settings
    yesterday = datetime.combine(today() - timedelta(days=1), datetime.min.time(), TZ) + timedelta(hours=12)
    old = [make_lead(f"Y{i}", (yesterday + timedelta(seconds=i)).isoformat(), channel="wechat")
           for i in range(30)]
    now = datetime.now(TZ).isoformat()  # today whatever the hour (burst() may reach back into yesterday)
    new = [make_lead(f"T{i}", now) for i in range(5)] + [make_step(f"T{i}", 1, now) for i in range(5)]
    proc = start_worker(s)
    try:
        assert Door(s).publish_objects(old + new, "test").accepted == len(old) + len(new)
        history = kafka.consumer(s, "test-history-probe", [s.topic_history])
        try:
            seen = []
            deadline = time.monotonic() + 30
            while len(seen) < len(old) and time.monotonic() < deadline:
                seen += [json.loads(m.value())["lead_id"] for m in history.consume(100, 0.5) if not m.error()]
        finally:
            history.close()
        assert sorted(seen) == sorted(e["lead_id"] for e in old)  # only yesterday's, all of them
        store = LiveStore.from_url(s.redis_url)
        assert wait_until(lambda: store.snapshot()["previous_day"]["leads"] == len(old), 60)
        assert wait_until(lambda: live_counts(store) == oracle_counts(new), 30)
    finally:
        proc.terminate()
        proc.wait(20)


def test_history_waits_for_every_workers_today_and_takes_turns(worker_settings):
    """With two `ecc worker` processes, each history consumer yielded only to its own process's today's
    consumer: the other's backfill ran while this one's today's partitions waited (6.5 s p99 in
    bench/pipeline.py --workers 2). The marks of another worker, kept in Redis, hold this one's history."""
    s = worker_settings
    store = LiveStore.from_url(s.redis_url)
    yesterday = datetime.combine(today() - timedelta(days=1), datetime.min.time(), TZ) + timedelta(hours=12)

    def old(prefix: str, n: int) -> list[dict]:
        return [make_lead(f"{prefix}{i}", (yesterday + timedelta(seconds=i)).isoformat()) for i in range(n)]

    def yesterdays_leads() -> int:
        return store.snapshot()["previous_day"]["leads"]

    proc = start_worker(s)
    try:
        assert Door(s).publish_objects(old("W", 1), "test").accepted == 1
        assert wait_until(lambda: yesterdays_leads() == 1, 60)  # the history consumer is running
        store.mark_today_behind("other-host:1:live", True, for_s=60)  # another worker's backlog of today
        time.sleep(0.5)  # a poll already waiting (0.1 s at most) may still take what comes: one batch
        assert Door(s).publish_objects(old("B", 30), "test").accepted == 30
        time.sleep(3)
        assert yesterdays_leads() == 1
        store.mark_today_behind("other-host:1:live", False)
        assert wait_until(lambda: yesterdays_leads() == 31, 30)
        assert store.take_history_turn("other-host:1:live-history", 60)  # another worker's history batch
        assert Door(s).publish_objects(old("T", 10), "test").accepted == 10
        time.sleep(3)
        assert yesterdays_leads() == 31
        store.end_history_turn("other-host:1:live-history")
        assert wait_until(lambda: yesterdays_leads() == 41, 30)
    finally:
        proc.terminate()
        proc.wait(20)
