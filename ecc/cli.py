"""`ecc`: the command line (docs/api.md). Each subcommand is a thin adapter over a module."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from ecc.config import ConfigError, Settings, resolve_phone_key
from ecc.embedded import CONFIG_EXIT

log = logging.getLogger("ecc")


# The demo's default event rate: a large internet branch (see `ecc demo --help`), and 8 days of history
# that load in well under a minute (docs/benchmarks.md "ecc demo: start to a full wall").
DEMO_RATE = 1.0
DEMO_HISTORY_DAYS = 8
# Above this rate the history is not loaded unless asked for: 8 days at 100 events/s are 69M events, hours
# of a loaded machine, not the quick start the demo promises.
HISTORY_RATE_MAX = 5.0

# Commands that hash phones (or serve what was hashed) and so cannot run without the installation's key.
_NEED_PHONE_KEY = {"worker", "sink", "web", "ingest"}


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "data_dir", None):
        settings = settings.with_(data_dir=args.data_dir)
    command = getattr(args, "command", None)
    # The demo makes its key on first start and its children inherit it (Settings.to_env); a simulator
    # that publishes through the door needs it too, one that writes a file or the raw topic does not.
    simulates_through_door = command == "simulate" and not (getattr(args, "out", None)
                                                            or getattr(args, "raw_topic", False))
    settings = resolve_phone_key(settings, create=command == "demo",
                                 required=command in _NEED_PHONE_KEY or simulates_through_door)
    if command == "demo":  # and the key that seals notification receivers' secrets, made the same way
        from ecc.alerts.receivers_secrets import resolve_key

        settings = resolve_key(settings, create=True)
    return settings


def _need_broker(settings: Settings) -> Settings:
    settings = settings.with_runtime()
    if not settings.kafka_bootstrap:
        raise ConfigError("no broker: start `ecc demo` first, or set KAFKA_BOOTSTRAP_SERVERS")
    return settings


def demo_history_days(rate: float, requested: int | None) -> int:
    """The days of history `ecc demo` loads: as asked, else DEMO_HISTORY_DAYS up to HISTORY_RATE_MAX."""
    if requested is not None:
        return max(0, requested)
    return DEMO_HISTORY_DAYS if rate <= HISTORY_RATE_MAX else 0


def cmd_demo(args, settings: Settings) -> int:
    from ecc.embedded import Stack, run_until_signalled

    sim = ["--rate", str(args.rate)]
    if args.surge:
        sim += ["--surge", str(args.surge)]
    history_days = demo_history_days(args.rate, args.history_days)
    if history_days == 0 and args.history_days is None and not args.no_simulate:
        log.warning("no history loaded at %g events/s (%d days would be %.0fM events): pass --history-days N "
                    "to load it anyway", args.rate, DEMO_HISTORY_DAYS,
                    args.rate * DEMO_HISTORY_DAYS * 86_400 / 1e6)
    stack = Stack(settings, port=args.port, simulate=not args.no_simulate, simulate_args=sim,
                  backfill_minutes=args.backfill_minutes, history_days=history_days)
    return run_until_signalled(stack)


def cmd_ingest(args, settings: Settings) -> int:
    """Exit 0: all accepted; 1: some lines rejected; 2: file unreadable; 3: the broker did not acknowledge
    some events (run the same command again: events already stored are dropped as duplicates)."""
    from ecc.transport.ingest import Door, ingest_file

    path = Path(args.file)
    if not path.is_file():
        sys.stderr.write(f"ecc ingest: cannot read {path}: no such file\n")
        return 2
    settings = _need_broker(settings)
    try:
        result = ingest_file(Door(settings), path)
    except OSError as exc:
        sys.stderr.write(f"ecc ingest: cannot read {path}: {exc}\n")
        return 2
    counts = {"accepted": result.accepted, "rejected": result.rejected}
    if not result.complete:  # only then: the usual line stays the contract's two counts
        counts.update(unacknowledged=result.unacknowledged, not_sent=result.not_sent)
    print(json.dumps(counts, ensure_ascii=False))
    for err in result.errors[: args.show]:
        sys.stderr.write(f"  line {err['index'] + 1}: {err['reason']}\n")
    if len(result.errors) > args.show:
        sys.stderr.write(f"  … {len(result.errors) - args.show} more (see `ecc rejects`)\n")
    if not result.broker_durable:
        sys.stderr.write("ecc ingest: note: the embedded broker keeps events in memory only; accepted events "
                         "not yet stored are lost if it crashes (see /api/v1/health for the lag)\n")
    if not result.complete:
        sys.stderr.write(f"ecc ingest: the broker did not acknowledge {result.unacknowledged} events"
                         f"{f' and {result.not_sent} lines were not sent' if result.not_sent else ''}"
                         f" ({result.broker_error or 'no reason given'}); run the same command again: "
                         "events already stored are dropped as duplicates\n")
        return 3
    return 1 if result.rejected else 0


def cmd_simulate(args, settings: Settings) -> int:
    from ecc.sim.simulate_cli import run

    if not args.out:
        settings = _need_broker(settings)
    return run(args, settings)


def cmd_worker(args, settings: Settings) -> int:
    from streams.app import run

    settings = _need_broker(settings)
    if not settings.redis_url:
        raise ConfigError("the worker needs Redis: set REDIS_URL")
    run(settings)
    return 0


def cmd_sink(args, settings: Settings) -> int:
    from ecc.sink import run_forever

    return run_forever(_need_broker(settings))


def web_workers(settings: Settings, requested: int | None) -> int:
    """How many gunicorn workers `ecc web` may start, or a ConfigError that says why not.

    The embedded chDB (no ECC_CLICKHOUSE_DSN, or a chdb:// one) can be opened by one process only: a
    second worker died on its lock (`EmbeddedServer: BAD_ARGUMENTS`). Asking for more is refused rather
    than silently reduced, so that a deployment does not believe it has capacity it lacks.
    """
    embedded = settings.clickhouse.startswith("chdb://")
    if requested is not None and requested < 1:
        raise ConfigError(f"--workers must be at least 1, got {requested}")
    if embedded and requested is not None and requested > 1:
        raise ConfigError(f"--workers {requested} with the embedded chDB ({settings.clickhouse}): only one "
                          "process may open it; use --workers 1 (and more --threads), or set "
                          "ECC_CLICKHOUSE_DSN to a ClickHouse server")
    return requested or (1 if embedded else 2)


def check_receivers_key(settings: Settings) -> None:
    """The web process's check of the receivers' secrets against ECC_SECRET_KEY (ecc.alerts.receivers
    check_start), made once before gunicorn starts: a worker that fails it fails to boot, which `ecc demo`
    could not tell from a passing fault; here it is a ConfigError, exit CONFIG_EXIT, and the demo stops."""
    from ecc import metadata
    from ecc.alerts import receivers

    engine = metadata.connect(settings.metadata)
    try:
        metadata.migrate(engine)
        receivers.check_start(engine, settings)
    finally:
        engine.dispose()  # no connection inherited by the workers gunicorn forks


def cmd_web(args, settings: Settings) -> int:
    """gunicorn in front of the Dash app, with ECC's buffering worker (ecc/webworker.py): a request is
    read whole in the event loop before a thread serves it, so slow clients cannot hold the threads."""
    from ecc.auth.mode import AuthModeError, resolve
    from ecc.auth.oidc_claims import from_settings as sso_settings

    try:  # auth off only on a loopback address; the workers get the resolved mode (docs/security.md)
        auth_on = resolve(settings.auth, [args.host])
    except AuthModeError as exc:
        raise ConfigError(str(exc)) from None
    sso_settings(settings)  # incomplete single sign-on settings stop here, not in every gunicorn worker
    if not settings.redis_url:
        raise ConfigError("the web app needs Redis for the wall: set REDIS_URL "
                          "(e.g. redis://127.0.0.1:6379/0); `ecc demo` runs the whole embedded stack")
    if settings.web_runs_sink and not settings.clickhouse.startswith("chdb://"):
        log.warning("ECC_WEB_RUNS_SINK with a ClickHouse server: run `ecc sink` on its own instead")
    workers = web_workers(settings, args.workers)
    if args.threads < 2:
        raise ConfigError(f"--threads must be at least 2 (one for the wall, one for the rest), "
                          f"got {args.threads}")
    check_receivers_key(settings)  # receivers' secrets without their key stop here too (docs/security.md)
    argv = ["gunicorn", "--bind", f"{args.host}:{args.port}", "--workers", str(workers),
            "--worker-class", "ecc.web.webworker.BufferingWorker", "--threads", str(args.threads),
            "--timeout", "120", "--no-control-socket", "--log-level", settings.log_level.lower(),
            "--config", "python:ecc.auth.gunicorn_conf", "layouts.server:application()"]
    os.environ["ECC_AUTH"] = "on" if auth_on else "off"
    os.execvp(sys.executable, [sys.executable, "-m", *argv])
    return 0  # not reached


def cmd_rejects(args, settings: Settings) -> int:
    import requests

    url = f"{args.url.rstrip('/')}/api/v1/rejects?limit={args.limit}"
    resp = requests.get(url, timeout=10)
    resp.raise_for_status()
    body = resp.json()
    print(f"{body['total']} rejected events; newest first:")
    for item in body["items"]:
        print(f"{item['received_at']}  {item['reason']}\n    {item['raw']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecc", description="ECC 业务指挥中心: real-time business command center")
    p.add_argument("--data-dir", help="where the embedded stack keeps its files (default ./var)")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the whole embedded stack on one machine")
    demo.add_argument("--port", type=int, default=8050)
    demo.add_argument("--no-simulate", action="store_true", help="do not start the simulator")
    demo.add_argument("--rate", type=float, default=DEMO_RATE,
                      help=f"simulated events per second, a weekday's average (default {DEMO_RATE:g}: "
                           "~11,000 leads and ~2,600 new accounts a weekday per event/s)")
    demo.add_argument("--backfill-minutes", type=float, default=None,
                      help="simulate the last N minutes at start (default: today from midnight, once per "
                           "data directory)")
    demo.add_argument("--history-days", type=int, default=None,
                      help="simulated days before today, loaded once per data directory, so that yesterday, "
                           f"last week and the asset stock are real (default {DEMO_HISTORY_DAYS} up to "
                           f"--rate {HISTORY_RATE_MAX:g}, none above; 0: none)")
    demo.add_argument("--surge", type=float, default=0.0, help="multiply the simulated rate (10 = surge)")
    demo.set_defaults(func=cmd_demo)

    ingest = sub.add_parser("ingest", help="publish a JSON Lines file of events to the broker")
    ingest.add_argument("file")
    ingest.add_argument("--show", type=int, default=20, help="rejected lines to print")
    ingest.set_defaults(func=cmd_ingest)

    from ecc.sim.simulate_cli import add_arguments
    sim = sub.add_parser("simulate", help="a realistic event stream into Kafka or a file")
    add_arguments(sim)
    sim.set_defaults(func=cmd_simulate)

    sub.add_parser("worker", help="the stream worker (faust): Kafka -> Redis").set_defaults(func=cmd_worker)
    sub.add_parser("sink", help="the ClickHouse sink: Kafka -> ClickHouse").set_defaults(func=cmd_sink)

    web = sub.add_parser("web", help="the dashboard and /api/v1 under gunicorn")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8050)
    web.add_argument("--workers", type=int, default=None,
                     help="gunicorn workers (default 1 with the embedded chDB, which allows one, else 2)")
    web.add_argument("--threads", type=int, default=16, help="threads per worker (default 16)")
    web.set_defaults(func=cmd_web)

    from ecc.auth.cli import add_parsers as add_access_parsers
    add_access_parsers(sub)  # ecc user …, ecc token …

    rej = sub.add_parser("rejects", help="list recent rejected events with their reasons")
    rej.add_argument("--url", default="http://127.0.0.1:8050")
    rej.add_argument("--limit", type=int, default=20)
    rej.set_defaults(func=cmd_rejects)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return args.func(args, settings)
    except ConfigError as exc:
        sys.stderr.write(f"ecc {args.command}: {exc}\n")
        return CONFIG_EXIT


if __name__ == "__main__":
    sys.exit(main())
