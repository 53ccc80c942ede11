"""`ecc simulate`: the simulator (ecc.sim.simulate) as a live stream into Kafka, or a JSON Lines file.

Live mode paces emission to the wall clock. By default it publishes through the door, as `ecc ingest`
does (validated, phones masked before anything reaches the broker); `--raw-topic` instead publishes raw
events to the upstream topic, as a channel system would, for the stream worker's gate to validate.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date, datetime
from pathlib import Path

from ecc import timeutil
from ecc.config import Settings
from ecc.sim import history_cli, simulate

log = logging.getLogger(__name__)
TICK_S = 0.2
WARMUP_HOURS = 3.0
CATCH_UP_MS = 10 * simulate.MINUTE  # a backfill is published window by window, not as one list


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=float, default=200.0, help="average events per second (default 200)")
    p.add_argument("--surge", type=float, default=1.0, help="multiply the rate, e.g. 10 for a surge")
    p.add_argument("--surge-from", help="the surge starts at this ISO-8601 instant (default: at once)")
    p.add_argument("--seed", type=int, default=None, help="deterministic output for a seed")
    p.add_argument("--anomaly", help="e.g. step=8,channel=douyin,factor=0.5,from=2026-11-21T10:00:00+08:00")
    p.add_argument("--duplicates", type=float, default=0.0, help="fraction of events re-sent (same event_id)")
    p.add_argument("--late", type=float, default=0.0, help="fraction of events sent 1-30 minutes late")
    p.add_argument("--bad", type=float, default=0.0, help="fraction of malformed lines added")
    p.add_argument("--out", help="write JSON Lines to this file instead of Kafka")
    p.add_argument("--date", help="with --out: a whole Shanghai day, e.g. 2026-11-21 (default: today)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds to run (live) or to generate from now (with --out); "
                        "default: forever / a day")
    p.add_argument("--raw-topic", action="store_true", help="publish raw events to the upstream topic")
    p.add_argument("--backfill-minutes", type=float, default=0.0,
                   help="live mode: first publish the last N minutes at once, so the screen starts populated")
    p.add_argument("--warmup-hours", type=float, default=WARMUP_HOURS,
                   help="live mode: simulate this long before the backfill without publishing, so that the "
                        "stream starts with journeys in flight (calls, reviews, deposits) as a real day does")
    history_cli.add_arguments(p)


def config_from(args: argparse.Namespace) -> simulate.SimConfig:
    return simulate.SimConfig(seed=args.seed if args.seed is not None else int(time.time()), rate=args.rate,
                              surge=args.surge, surge_from=args.surge_from, anomaly=args.anomaly,
                              duplicates=args.duplicates, late=args.late, bad=args.bad)


def write_file(args: argparse.Namespace, config: simulate.SimConfig) -> int:
    path = Path(args.out)
    if args.duration is not None:
        start = timeutil.now_ms() - int(args.duration * 1000)
        items = (item for _, item in simulate.generate(config, start, timeutil.now_ms()))
    else:
        on = date.fromisoformat(args.date) if args.date else timeutil.today()
        items = simulate.day(on, config)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(simulate.to_line(item) + "\n")
            n += 1
    log.info("wrote %d lines to %s", n, path)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        config = config_from(args)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if args.out:
        return write_file(args, config)
    if args.history_days:
        return history_cli.run_history(args, settings)
    from ecc.transport.ingest import Door
    from ecc.transport.kafka import Publisher

    publisher = Publisher(settings)
    door = Door(settings, publisher)
    publish_from = timeutil.now_ms() - int(args.backfill_minutes * 60_000)
    sim = simulate.Simulator(config, publish_from - int(args.warmup_hours * simulate.HOUR))
    sim.advance(publish_from)  # the warm-up: journeys in flight, nothing published
    stop_at = time.monotonic() + args.duration if args.duration else None
    sent = rejected = 0
    last_report = time.monotonic()
    log.info("simulating %g events/s (x%.1f) into %s, backfilling %.1f minutes", config.rate, config.surge,
             settings.kafka_bootstrap, args.backfill_minutes)
    while stop_at is None or time.monotonic() < stop_at:
        items = [item for _, item in sim.advance(min(timeutil.now_ms(), sim.now_ms + CATCH_UP_MS))]
        if items:
            if args.raw_topic:
                for item in items:
                    publisher.send(settings.topic_raw, None, simulate.to_line(item).encode())
                publisher.flush()
                sent += len(items)
            else:
                result = door.publish_lines([simulate.to_line(i) for i in items], "simulator")
                sent, rejected = sent + result.accepted, rejected + result.rejected
        if time.monotonic() - last_report > 60:
            log.info("sent %d events, %d rejected, %d journeys in flight at %s", sent, rejected,
                     sim.in_flight, datetime.now(timeutil.TZ).strftime("%H:%M:%S"))
            last_report = time.monotonic()
        if sim.now_ms >= timeutil.now_ms() - CATCH_UP_MS:
            time.sleep(TICK_S)  # caught up with the clock (a backfill goes on without a pause)
    return 0
