"""The answer cache's per-process layer over Redis (ecc.answer_cache): a crowd asking for the same answer
costs no Redis round trip per request, and no answer outlives its TTL by more than LOCAL_S."""

from __future__ import annotations

import time

from ecc import answer_cache
from ecc.answer_cache import AnswerCache


def test_a_held_answer_is_served_without_redis(redis_client):
    cache = AnswerCache(redis_client)
    assert cache.get("k", 5, lambda: "one") == "one"
    redis_client.delete("ecc:answer:k")  # gone from Redis: only the process's copy can answer now
    assert cache.get("k", 5, lambda: "two") == "one"
    assert cache.computed == 1


def test_a_held_answer_expires_after_local_s(redis_client, monkeypatch):
    monkeypatch.setattr(answer_cache, "LOCAL_S", 0.05)
    cache = AnswerCache(redis_client)
    assert cache.get("k", 5, lambda: "one") == "one"
    redis_client.set("ecc:answer:k", "newer", px=5000)  # another worker's fresher answer
    time.sleep(0.1)
    assert cache.get("k", 5, lambda: "two") == "newer"  # asked Redis again, did not compute


def test_answers_read_from_redis_are_held_too(redis_client):
    other_worker, cache = AnswerCache(redis_client), AnswerCache(redis_client)
    other_worker.get("k", 5, lambda: "shared")
    assert cache.get("k", 5, lambda: "mine") == "shared"
    redis_client.delete("ecc:answer:k")
    assert cache.get("k", 5, lambda: "mine") == "shared" and cache.computed == 0


def test_held_answers_are_bounded(redis_client, monkeypatch):
    monkeypatch.setattr(answer_cache, "LOCAL_MAX", 10)
    cache = AnswerCache(redis_client)
    for n in range(25):
        cache.get(f"k{n}", 5, lambda n=n: str(n))
    assert len(cache._local) <= 10
    assert cache.get("k24", 5, lambda: "recomputed") == "24"
