"""Serving without a queue: the embedded sink has its own chDB client, so a drill-down holding the web's
client never stops it; two clients on one chDB path run side by side."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest
from waiting import wait_until

from ecc.olap import clickhouse
from ecc.services import Services
from ecc.transport import kafka
from ecc.transport.ingest import Door

LEAD = {"event_id": "svc-l-1", "type": "lead", "ts": "2026-11-21T09:30:05.120+08:00", "lead_id": "SVC1",
        "channel": "douyin"}


def in_thread(work, timeout: float = 30.0):
    """Run `work` in another thread; its result, or raise when it did not finish within `timeout`."""
    out: dict = {}
    thread = threading.Thread(target=lambda: out.update(value=work()), daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError("still waiting: the call queued behind the held client")
    return out["value"]


def test_second_client_on_the_same_path_is_not_held_by_the_first(chdb_client, ch):
    other = clickhouse.connect(f"chdb://{chdb_client.path}")
    try:
        with clickhouse.locked(ch):  # a drill-down in progress on the first client
            assert in_thread(lambda: clickhouse.ping(other))
            assert in_thread(lambda: clickhouse.query_rows(other, "freshness", {}))[0]["events"] == 0
    finally:
        other.close()


def test_a_held_client_does_hold_its_own_callers(chdb_client, ch):
    """The other side of the claim: on the *same* client a second caller waits (so the sink needs its own)."""
    with clickhouse.locked(ch), pytest.raises(TimeoutError):
        in_thread(lambda: clickhouse.ping(ch), timeout=1.0)


def test_pool_lends_another_client_while_one_is_busy(chdb_client, ch):
    pool = clickhouse.ClientPool(f"chdb://{chdb_client.path}", 2)
    try:
        with clickhouse.locked(pool), pool.lend():  # one client busy with a long drill-down
            assert in_thread(lambda: clickhouse.ping(pool))  # the other one answers
            assert in_thread(lambda: clickhouse.query_rows(pool, "freshness", {}))[0]["events"] == 0
    finally:
        pool.close()


def test_pool_of_one_waits_for_its_client(chdb_client, ch):
    pool = clickhouse.ClientPool(f"chdb://{chdb_client.path}", 1)
    try:
        with pool.lend(), pytest.raises(TimeoutError):
            in_thread(lambda: clickhouse.ping(pool), timeout=1.0)
        assert clickhouse.ping(pool)  # and gets it once it is back
    finally:
        pool.close()


@pytest.fixture
def embedded(settings, chdb_client, valkey_url, broker, request):
    tag = request.node.name[:40]
    s = settings.with_(kafka_bootstrap=broker, redis_url=valkey_url, web_runs_sink=True,
                       clickhouse_dsn=f"chdb://{chdb_client.path}", topic_raw=f"raw.{tag}",
                       topic_events=f"events.{tag}", topic_rejects=f"rejects.{tag}", sink_batch_seconds=0.2)
    kafka.ensure_topics(s)
    services = Services.build(s)
    yield services
    services.close()
    services.ch.close()  # its own handles; the session's shared client stays open


def test_embedded_sink_stores_while_a_drill_down_holds_the_web_client(embedded, ch):
    sink = embedded.sink
    assert wait_until(lambda: sink.client is not None)
    assert isinstance(embedded.ch, clickhouse.ClientPool) and sink.client not in embedded.ch.clients
    holds = [embedded.ch.lend() for _ in embedded.ch.clients]
    with contextlib.ExitStack() as busy:  # long drill-downs on every client of the web, for the whole test
        for hold in holds:
            busy.enter_context(hold)
        result = Door(embedded.settings).publish_lines([json.dumps(LEAD)], "file")
        assert result.accepted == 1
        assert wait_until(lambda: sink.stats.inserted >= 1)
        stored = in_thread(lambda: clickhouse.existing_ids(sink.client, ["svc-l-1"]))
    assert stored == {"svc-l-1"}
    assert clickhouse.existing_ids(embedded.ch, ["svc-l-1"]) == {"svc-l-1"}  # one engine, one table
