"""`/api/v1/health` and `/metrics` (docs/api.md): what each part of ECC is doing, judged in one place.

Three states, for people and for load balancers:
- `down` (HTTP 503): a store this process answers from (Redis, ClickHouse) is unreachable.
- `degraded` (HTTP 200): everything answers, but the numbers are late or incomplete: consumer lag or
  freshness past its threshold, a worker without a recent heartbeat, the broker unreachable, the sink
  failing, or the live store rebuilding.
- `up`: none of the above.
The thresholds are module constants (documented in docs/api.md and docs/deploy.md).
"""

from __future__ import annotations

import logging
import time

import redis

from ecc import timeutil
from ecc.olap import analytics

log = logging.getLogger(__name__)

# Past these the status is `degraded`: a backlog a worker needs more than a few seconds to drain, data
# older than a minute on a wall that promises seconds, a worker silent for longer than ten 1 s beats.
DEGRADED_LAG = 10_000
DEGRADED_FRESHNESS_S = 60.0
HEARTBEAT_MAX_AGE_S = 10.0
_STORES = ("redis", "clickhouse")
_LAG_CACHE_S = 5.0

_cache: dict[str, tuple[float, object]] = {}


def _cached(name: str, seconds: float, compute):
    """Consumer lag asks the broker for every partition: once every few seconds is enough."""
    hit = _cache.get(name)
    if hit and time.monotonic() - hit[0] < seconds:
        return hit[1]
    value = compute()
    _cache[name] = (time.monotonic(), value)
    return value


def clamp_freshness(seconds: float | None) -> float | None:
    """Events up to 5 minutes ahead are accepted: "now − newest" may be negative; 0 is the honest floor."""
    return None if seconds is None else max(0.0, round(seconds, 3))


def _heartbeats(live) -> dict[str, int]:
    beats = getattr(live, "heartbeats", None)  # LiveStore.heartbeats(): {component: epoch ms}
    return beats() if callable(beats) else {}


def _live_state(live) -> dict:
    state = getattr(live, "live_state", None)  # LiveStore.live_state(): {"state": "ok"|"rebuilding"|"empty"}
    if not callable(state):
        return {"state": "ok"}
    value = state()
    return value if isinstance(value, dict) else {"state": str(value)}


def worker_component(heartbeats: dict[str, int], lag: int | None, now_ms: int) -> dict:
    """A worker is up when it beat within HEARTBEAT_MAX_AGE_S, not merely when the broker answers."""
    beats = {name: int(ts) for name, ts in heartbeats.items() if name.startswith("worker")}
    age = None if not beats else max(0.0, (now_ms - max(beats.values())) / 1000)
    return {"up": age is not None and age <= HEARTBEAT_MAX_AGE_S, "lag": lag,
            "heartbeat_age_s": None if age is None else round(age, 3)}


def judge(components: dict[str, dict], freshness_s: float | None, live_state: str) -> tuple[str, list[str]]:
    """(status, reasons) from the components: pure, so every rule is tested without a broken store."""
    reasons = [f"{name} unreachable" for name in _STORES if not components.get(name, {}).get("up")]
    if reasons:
        return "down", reasons
    for name, comp in components.items():
        if name not in _STORES and not comp.get("up"):
            reasons.append(f"{name} not up")
        lag = comp.get("lag")
        if lag is not None and lag > DEGRADED_LAG:
            reasons.append(f"{name} lag {lag} > {DEGRADED_LAG}")
    if freshness_s is not None and freshness_s > DEGRADED_FRESHNESS_S:
        reasons.append(f"freshness {freshness_s:.0f} s > {DEGRADED_FRESHNESS_S:.0f} s")
    if live_state == "rebuilding":
        reasons.append("live store rebuilding")
    return ("degraded" if reasons else "up"), reasons


def report(services) -> dict:
    from ecc.olap import clickhouse
    from ecc.transport.kafka import consumer_lag

    s = services.settings
    now = timeutil.now_ms()
    components: dict[str, dict] = {"redis": {"up": services.live.ping()},
                                   "clickhouse": {"up": clickhouse.ping(services.ch)}}
    worker_lag = _cached("lag-worker", _LAG_CACHE_S, lambda: consumer_lag(s, "ecc-worker", [s.topic_events]))
    # consumer_lag answers None when it cannot reach the broker.
    # durable: False on the embedded broker (memory only): a crash loses what no consumer has stored.
    components["broker"] = {"up": worker_lag is not None, "durable": s.broker_durable}
    redis_up = components["redis"]["up"]
    live_state = {"state": "unknown"}
    if redis_up:
        try:
            components["worker"] = worker_component(_heartbeats(services.live), worker_lag, now)
            # A backfill of past days waits on its own topic by design: shown, not judged.
            components["worker"]["history_lag"] = _cached(
                "lag-worker-history", _LAG_CACHE_S,
                lambda: consumer_lag(s, "ecc-worker-history", [s.topic_history]))
            live_state = _live_state(services.live)
        except redis.RedisError as exc:  # Redis went away between the ping and here
            log.warning("live store unreachable while reading health: %s", exc)
            components["redis"] = {"up": False, "error": str(exc)}
            redis_up = False
    if services.sink is not None:
        st = services.sink.stats
        sink_lag = _cached("lag-sink", _LAG_CACHE_S,
                           lambda: consumer_lag(s, "ecc-sink", [s.topic_events, s.topic_history,
                                                                   s.topic_rejects]))
        components["sink"] = {"up": services.sink.alive and st.healthy, "lag": sink_lag,
                              "inserted": st.inserted, "redelivered": st.redelivered,
                              "last_error": st.last_error}
    fresh = services.live.freshness_ms() if redis_up else {}
    freshness = {src: clamp_freshness((now - ts) / 1000) for src, ts in fresh.items()}
    ch_fresh = clamp_freshness(analytics.freshness_s(services.ch)) if components["clickhouse"]["up"] else None
    status, reasons = judge(components, freshness.get("all"), live_state.get("state", "ok"))
    return {"status": status, "reasons": reasons, "components": components, "live_state": live_state,
            "thresholds": {"lag": DEGRADED_LAG, "freshness_s": DEGRADED_FRESHNESS_S,
                           "heartbeat_max_age_s": HEARTBEAT_MAX_AGE_S},
            "freshness_s": {"redis": freshness, "clickhouse": ch_fresh},
            "ingest_rate": services.live.rate("accepted") if redis_up else None,
            "reject_rate": services.live.rate("rejected") if redis_up else None,
            "uptime_s": round(time.time() - services.started_at, 1)}


def http_status(body: dict) -> int:
    return 503 if body["status"] == "down" else 200


def prometheus_text(services) -> str:
    h = report(services)
    lines = ["# HELP ecc_up Component is up (1) or down (0).", "# TYPE ecc_up gauge"]
    for name, comp in h["components"].items():
        lines.append(f'ecc_up{{component="{name}"}} {1 if comp["up"] else 0}')
    lines += ["# HELP ecc_status Overall status: 0 up, 1 degraded, 2 down.", "# TYPE ecc_status gauge",
              f"ecc_status {('up', 'degraded', 'down').index(h['status'])}"]
    lines += ["# HELP ecc_consumer_lag Messages not yet processed by a consumer group.",
              "# TYPE ecc_consumer_lag gauge"]
    for name, comp in h["components"].items():
        if comp.get("lag") is not None:
            lines.append(f'ecc_consumer_lag{{consumer="{name}"}} {comp["lag"]}')
    lines += ["# HELP ecc_freshness_seconds Now minus the newest event time included, per source.",
              "# TYPE ecc_freshness_seconds gauge"]
    for src, value in sorted(h["freshness_s"]["redis"].items()):
        lines.append(f'ecc_freshness_seconds{{store="redis",source="{src}"}} {value}')
    if h["freshness_s"]["clickhouse"] is not None:
        value = h["freshness_s"]["clickhouse"]
        lines.append(f'ecc_freshness_seconds{{store="clickhouse",source="all"}} {value}')
    for kind in ("ingest_rate", "reject_rate"):
        if h[kind] is not None:
            lines += [f"# TYPE ecc_{kind}_per_second gauge", f"ecc_{kind}_per_second {h[kind]}"]
    if services.sink is not None:
        st = services.sink.stats
        lines += ["# TYPE ecc_sink_inserted_total counter", f"ecc_sink_inserted_total {st.inserted}",
                  "# TYPE ecc_sink_redelivered_total counter", f"ecc_sink_redelivered_total {st.redelivered}"]
    return "\n".join(lines) + "\n"
