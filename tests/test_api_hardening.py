"""Issue 6, findings 7–8 on the API side: JSON 404/405 on the real Dash app, health states, the answer
cache's single flight (real Redis), CSV cells, freshness never negative."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from ecc import metadata
from ecc.embedded import free_port
from ecc.live.live_store import LiveStore
from ecc.services import Services
from ecc.web import answer_cache, health
from ecc.web.answer_cache import AnswerCache, client_for
from ecc.web.api import create_api, csv_cell
from layouts.app import create_app


@pytest.fixture
def services(ch, redis_client, settings):
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    return Services(settings=settings, live=LiveStore(redis_client), ch=ch, meta=engine)


@pytest.fixture
def dash_client(services, settings):
    app = create_app(settings, lambda: {},
                     extra_setup=lambda a: a.server.register_blueprint(create_api(services)))
    return app.server.test_client()


def test_unknown_api_path_is_json_404_not_the_dashboard(dash_client):
    # Finding 8: /api/v1/nope answered the dashboard's HTML with 200 (Dash's catch-all page route).
    resp = dash_client.get("/api/v1/nope")
    assert resp.status_code == 404 and resp.mimetype == "application/json"
    assert "no such endpoint" in resp.get_json()["error"]
    assert dash_client.get("/api/v2/kpis").status_code == 404
    assert dash_client.get("/").status_code == 200  # the dashboard itself is still served


def test_wrong_method_is_json_405_with_allow(dash_client):
    resp = dash_client.post("/api/v1/kpis", json={})
    assert resp.status_code == 405 and resp.get_json()["detail"] == {"allowed": ["GET"]}
    assert resp.headers["Allow"] == "GET"
    resp = dash_client.get("/api/v1/events")
    assert resp.status_code == 405 and resp.headers["Allow"] == "POST"


@pytest.mark.parametrize("value, shown", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("L-1", "L-1"), ("云南", "云南"), (-5, -5),
])
def test_csv_cells_cannot_start_a_formula(value, shown):
    assert csv_cell(value) == shown


def test_health_judge_states():
    ok = {"redis": {"up": True}, "clickhouse": {"up": True}, "broker": {"up": True},
          "worker": {"up": True, "lag": 5}}
    assert health.judge(ok, 1.0, "ok") == ("up", [])
    status, reasons = health.judge({**ok, "worker": {"up": True, "lag": 967_000}}, 82.0, "ok")
    assert status == "degraded" and any("lag 967000" in r for r in reasons)
    assert any("freshness 82 s" in r for r in reasons)
    assert health.judge({**ok, "worker": {"up": False}}, 1.0, "ok")[0] == "degraded"
    assert health.judge(ok, 1.0, "rebuilding") == ("degraded", ["live store rebuilding"])
    assert health.judge({**ok, "redis": {"up": False}}, None, "ok") == ("down", ["redis unreachable"])


def test_worker_is_up_only_with_a_recent_heartbeat():
    now = 1_000_000_000
    assert health.worker_component({}, 0, now)["up"] is False  # the broker answering is not enough
    assert health.worker_component({"worker-1": now - 2_000}, 0, now) == {"up": True, "lag": 0,
                                                                          "heartbeat_age_s": 2.0}
    assert health.worker_component({"worker-1": now - 30_000, "sink": now}, 0, now)["up"] is False
    assert health.worker_component({"worker-1": now + 500}, 0, now)["heartbeat_age_s"] == 0.0


def test_freshness_is_never_negative():
    # Finding 8: events up to 5 min ahead made freshness -288 s, which hid staleness.
    assert health.clamp_freshness(-288.0) == 0.0 and health.clamp_freshness(None) is None
    assert health.clamp_freshness(3.21) == 3.21


def test_health_down_with_503_when_redis_is_unreachable(services, dash_client):
    services.live = LiveStore(client_for(f"redis://127.0.0.1:{free_port()}/0"))
    resp = dash_client.get("/api/v1/health")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "down" and "redis unreachable" in body["reasons"]
    assert body["thresholds"] == {"lag": health.DEGRADED_LAG, "freshness_s": health.DEGRADED_FRESHNESS_S,
                                  "heartbeat_max_age_s": health.HEARTBEAT_MAX_AGE_S}


def test_kpis_freshness_clamped_with_events_from_the_future(dash_client, ch):
    from datetime import UTC, datetime, timedelta

    from ecc.contract.validate import validate
    from ecc.sink import SinkStats, store_batch

    ahead = datetime.now(UTC) + timedelta(minutes=4)
    event = {"event_id": "f1", "type": "lead", "ts": ahead.isoformat(), "lead_id": "F1", "channel": "douyin"}
    store_batch(ch, [validate(event, phone_key="k")], [], SinkStats())
    body = dash_client.get("/api/v1/kpis").get_json()
    assert body["freshness_s"] == 0.0


def test_single_flight_one_computation_for_concurrent_requests(redis_client):
    cache = AnswerCache(redis_client)
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return '{"n": 1}'
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", 5, slow))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == ['{"n": 1}'] * 20
    assert redis_client.pttl("ecc:answer:k") > 0


def test_single_flight_across_processes_through_redis(valkey_url, redis_client):
    # Two caches on two clients stand for two gunicorn workers: one computes, the other waits for it.
    first = AnswerCache(redis.Redis.from_url(valkey_url, decode_responses=True))
    second = AnswerCache(redis.Redis.from_url(valkey_url, decode_responses=True))
    out = {}

    def slow():
        time.sleep(0.4)
        return "answer"
    t = threading.Thread(target=lambda: out.setdefault("a", first.get("x", 5, slow)))
    t.start()
    time.sleep(0.1)
    out["b"] = second.get("x", 5, slow)
    t.join()
    assert out == {"a": "answer", "b": "answer"} and first.computed + second.computed == 1


def test_answers_expire_and_errors_are_shared(redis_client):
    cache = AnswerCache(redis_client)
    assert cache.get("t", 0.05, lambda: "one") == "one"
    time.sleep(0.1)
    assert cache.get("t", 0.05, lambda: "two") == "two"

    def boom():
        raise RuntimeError("query failed")
    with pytest.raises(RuntimeError):
        cache.get("e", 1, boom)
    assert redis_client.get("ecc:answer:e") is None  # a failure is not cached


def test_an_expired_answer_stands_in_while_one_request_computes_the_next(valkey_url, redis_client):
    """200 /kpis clients all waited for the recomputation every time the answer expired (p95 1.1 s,
    median 0.18 s). Now the first request after expiry computes; the others, in this worker or another,
    get the expired answer at once, and the next ones the new answer."""
    cache = AnswerCache(redis_client)
    other_worker = AnswerCache(redis.Redis.from_url(valkey_url, decode_responses=True))
    assert cache.get("s", 0.05, lambda: "old") == "old"
    time.sleep(0.1)
    started, computing = [], threading.Event()

    def slow():
        computing.set()
        time.sleep(0.6)
        return "new"
    refresher = threading.Thread(target=lambda: started.append(cache.get("s", 5, slow)))
    refresher.start()
    computing.wait(5)
    began = time.monotonic()
    got = [cache.get("s", 5, lambda: "never"), other_worker.get("s", 5, lambda: "never")]
    assert got == ["old", "old"] and time.monotonic() - began < 0.3
    refresher.join()
    assert started == ["new"] and cache.get("s", 5, lambda: "never") == "new"
    assert cache.computed == 2 and other_worker.computed == 0


def test_a_watermarked_answer_lasts_until_the_data_moves(redis_client, monkeypatch):
    monkeypatch.setattr(answer_cache, "MIN_AGE_S", 0.0)
    live = LiveStore(redis_client)
    cache = AnswerCache(redis_client, watermark_key=live.stored_key)
    computed = []

    def answer(text: str, store_meanwhile: bool = False):
        def compute():
            computed.append(text)
            if store_meanwhile:
                live.note_stored()  # the sink stores a batch while this answer is computed
            return text
        return compute

    assert cache.get("w", 60, answer("one"), watermarked=True) == "one"
    assert cache.get("w", 60, answer("never"), watermarked=True) == "one"
    assert cache.get("t", 60, answer("timed")) == "timed"
    live.note_stored()
    assert cache.get("w", 60, answer("two", store_meanwhile=True), watermarked=True) == "two"
    # computed at the watermark read before the batch landed: not fresh at the new one
    assert cache.get("w", 60, answer("three"), watermarked=True) == "three"
    assert cache.get("w", 60, answer("never"), watermarked=True) == "three"
    assert cache.get("t", 60, answer("never")) == "timed"  # answers without the watermark keep their ttl
    assert computed == ["one", "timed", "two", "three"]


def test_a_watermarked_answer_serves_its_minimum_age_however_the_data_moves(redis_client, monkeypatch):
    """Under live ingest the watermark moves with every sink batch (0.5 s): a hot answer is computed
    again at most every MIN_AGE_S, not at every batch."""
    monkeypatch.setattr(answer_cache, "MIN_AGE_S", 0.5)
    live = LiveStore(redis_client)
    cache = AnswerCache(redis_client, watermark_key=live.stored_key)
    assert cache.get("m", 60, lambda: "one", watermarked=True) == "one"
    live.note_stored()
    assert cache.get("m", 60, lambda: "never", watermarked=True) == "one"
    time.sleep(0.6)
    assert cache.get("m", 60, lambda: "two", watermarked=True) == "two"
    time.sleep(0.6)
    assert cache.get("m", 60, lambda: "never", watermarked=True) == "two"  # the data did not move since


def test_a_late_event_in_a_closed_period_shows_at_once(ch, redis_client, valkey_url, settings, broker):
    """Answers were keyed by time only: a closed period's answer was kept 60 s, so a late event that the
    sink had stored did not show for up to a minute. Now the key holds the data watermark the sink moves
    after every batch it stores: the next request computes the answer again."""
    from datetime import UTC, datetime, timedelta

    from waiting import wait_until

    from ecc.sink import Sink
    from ecc.transport import kafka
    from ecc.transport.ingest import Door

    s = settings.with_(kafka_bootstrap=broker, redis_url=valkey_url, topic_raw="raw.late",
                       topic_events="events.late", topic_history="history.late", topic_rejects="rejects.late",
                       sink_batch_seconds=0.2)
    kafka.ensure_topics(s)
    engine = metadata.connect(s.metadata)
    metadata.migrate(engine)
    services = Services(settings=s, live=LiveStore(redis_client), ch=ch, meta=engine)
    app = create_app(s, lambda: {}, extra_setup=lambda a: a.server.register_blueprint(create_api(services)))
    client = app.server.test_client()
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=2, minute=0, second=0, microsecond=0)
    url = f"/api/v1/kpis?from={day.isoformat()}&to={(day + timedelta(hours=6)).isoformat()}"

    def lead(n: int) -> str:
        return json.dumps({"event_id": f"late-{n}", "type": "lead", "lead_id": f"LATE{n}",
                           "channel": "douyin", "ts": (day + timedelta(hours=n)).isoformat()})

    door = Door(s)
    sink = Sink(s, ch, rebuild=False).start()
    try:
        door.publish_lines([lead(1)], "http")
        assert wait_until(lambda: ch.query("SELECT count() FROM events").result_rows[0][0] == 1)
        assert client.get(url).get_json()["leads"] == 1
        door.publish_lines([lead(2)], "http")  # late: its period closed two days ago
        assert wait_until(lambda: sink.stats.inserted == 2)
        assert wait_until(lambda: client.get(url).get_json()["leads"] == 2, timeout=5)
    finally:
        sink.stop()


def test_answer_cache_works_without_redis():
    cache = AnswerCache(client_for(f"redis://127.0.0.1:{free_port()}/0"))
    started = time.monotonic()
    assert cache.get("k", 1, lambda: "computed") == "computed"
    assert cache.get("k", 1, lambda: "again") == "again"  # paused: no second wait on a dead Redis
    assert time.monotonic() - started < 2


def test_post_events_is_503_unless_the_broker_acknowledged_every_event(ch, redis_client, settings):
    # An event counts as accepted only once the broker acknowledged it: a broker that is not there is a
    # 503 that says how many were not, never a 200 that the client would take as stored.
    engine = metadata.connect(settings.metadata)
    metadata.migrate(engine)
    absent = settings.with_(kafka_bootstrap=f"127.0.0.1:{free_port()}", publish_timeout=1.0,
                            broker_durable=False)
    services = Services(settings=absent, live=LiveStore(redis_client), ch=ch, meta=engine)
    app = create_app(absent, lambda: {},
                     extra_setup=lambda a: a.server.register_blueprint(create_api(services)))
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    line = f'{{"event_id":"e1","type":"lead","ts":"{now}","lead_id":"L1","channel":"douyin"}}'
    resp = app.server.test_client().post("/api/v1/events", data=line + "\nnot json\n",
                                         headers={"Content-Type": "application/x-ndjson"})
    body = resp.get_json()
    assert resp.status_code == 503 and "send the batch again" in body["error"]
    assert body["accepted"] == 0 and body["unacknowledged"] == 1 and body["rejected"] == 1
    assert body["broker_durable"] is False
