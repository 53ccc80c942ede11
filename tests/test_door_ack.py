"""The door counts an event accepted only once the broker acknowledged it (issue 6, deliver 5).

Each test starts its own tansu broker (memory only) and stops it in the middle: paused (SIGSTOP), so
that what it had acknowledged can still be read back afterwards, or killed (SIGKILL) mid-ingest.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from ecc import cli
from ecc.embedded import broker_argv, free_port, wait_for_port
from ecc.transport import kafka
from ecc.transport.ingest import Door, ingest_file


@pytest.fixture
def own_broker():
    port = free_port()
    proc = subprocess.Popen(broker_argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 15, proc, "tansu")
    yield proc, f"127.0.0.1:{port}"
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.wait(10)


def lines(prefix: str, n: int) -> list[str]:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 60))
    return [json.dumps({"event_id": f"{prefix}{i}", "type": "lead", "ts": ts, "lead_id": f"L{prefix}{i}",
                        "channel": "douyin"}) for i in range(n)]


def read_ids(settings, topic: str, want: set[str], timeout: float = 20.0) -> set[str]:
    c = kafka.consumer(settings, f"check-{time.monotonic_ns()}", [topic])
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not want <= seen:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                seen.add(json.loads(msg.value())["event_id"])
    finally:
        c.close()
    return seen


def test_a_paused_broker_acknowledges_nothing_and_the_door_says_so(own_broker, settings):
    proc, bootstrap = own_broker
    s = settings.with_(kafka_bootstrap=bootstrap, publish_timeout=2.0)
    kafka.ensure_topics(s)
    door = Door(s)
    first = door.publish_lines([*lines("a", 300), "{bad"], "http")
    assert (first.accepted, first.rejected, first.unacknowledged) == (300, 1, 0) and first.complete
    proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        second = door.publish_lines([*lines("b", 200), "{bad"], "http")
        took = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGCONT)
    assert second.accepted == 0 and second.unacknowledged == 200 and second.rejected == 1
    assert second.dead_letters_unacknowledged == 1 and not second.complete
    assert "timed out" in second.broker_error.lower(), second.broker_error
    assert took < 10
    # Everything counted accepted is on the topic (the broker may still have taken some of the rest:
    # that is a duplicate for a client that sends them again, and duplicates are dropped by event_id).
    first_ids = {f"a{i}" for i in range(300)}
    assert first_ids <= read_ids(s, s.topic_events, first_ids)


def test_a_broker_killed_mid_ingest(own_broker, settings, tmp_path, monkeypatch, capsys):
    proc, bootstrap = own_broker
    s = settings.with_(kafka_bootstrap=bootstrap, publish_timeout=2.0)
    kafka.ensure_topics(s)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines("k", 60_000)) + "\n")

    class KilledAfterTwoChunks(Door):
        """The broker dies once two chunks were acknowledged (a timer of 1 s let the whole file through on
        a quiet machine, once in CI): the kill lands mid-ingest whatever the machine's speed."""

        def publish_lines(self, *args, **kwargs):
            part = super().publish_lines(*args, **kwargs)
            self.chunks = getattr(self, "chunks", 0) + 1
            if self.chunks == 2:
                proc.kill()
                proc.wait(10)
            return part

    result = ingest_file(KilledAfterTwoChunks(s), path, chunk=2_000)
    assert proc.poll() is not None
    assert result.accepted > 0 and result.unacknowledged + result.not_sent > 0
    assert result.accepted + result.unacknowledged + result.not_sent == 60_000
    assert result.broker_error

    # The command line says so and exits 3.
    for name, value in s.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    assert cli.main(["ingest", str(path)]) == 3
    out, err = capsys.readouterr()
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts["accepted"] == 0 and counts["unacknowledged"] + counts["not_sent"] == 60_000
    assert "did not acknowledge" in err and "run the same command again" in err
