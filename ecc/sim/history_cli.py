"""`ecc simulate --history-days N`: the demo's history, published once per data directory.

Each missing day (`ecc.sim.history`) is simulated and published through the door, as `ecc ingest` does
(validated, phones masked); the door puts events before today on the history topic, which the live
consumers take only while today's topic is not behind, so today's events keep their latency. The process
runs at a lower CPU priority for the same reason. Then each day is confirmed stored by asking the API for
its leads (ClickHouse, through the web process that owns the embedded chDB) until they equal the leads
published, and recorded in the marker; a day not confirmed (the demo was stopped first) is published again
at the next start, identically, and what was already stored is dropped as duplicates.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import date, timedelta

import requests

from ecc import timeutil
from ecc.config import Settings
from ecc.sim import history

log = logging.getLogger(__name__)
CHUNK = 5000  # events per door call
CONFIRM_EVERY_S = 2.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--history-days", type=int, default=0,
                   help="publish the N days before today that this data directory lacks (the demo's "
                        "history), confirm them stored through --api-url, then exit")
    p.add_argument("--api-url", default=None,
                   help="with --history-days: the web app that confirms the days stored")
    p.add_argument("--confirm-timeout", type=float, default=900.0,
                   help="with --history-days: seconds to wait for the days to be stored")


def run_history(args: argparse.Namespace, settings: Settings) -> int:
    from ecc.transport.ingest import Door

    with_nice(5)
    marker = history.Marker.load(settings.data_path, args.seed if args.seed is not None else int(time.time()),
                                 args.rate)
    marker.save()  # the seed is fixed from the first start on: a day is regenerated identically
    days = marker.missing(timeutil.today(), args.history_days)
    if not days:
        log.info("history: the %d days before today are stored already", args.history_days)
        return 0
    door = Door(settings)
    started = time.monotonic()
    expected: dict[date, int] = {}
    for day in days:
        t0 = time.monotonic()
        events, leads, unacked = publish_day(door, marker.seed, day, marker.rate)
        log.info("history %s: %d events (%d leads) published in %.1fs%s", day, events, leads,
                 time.monotonic() - t0, f"; {unacked} not acknowledged" if unacked else "")
        if not unacked:
            expected[day] = leads
    log.info("history: %d days published in %.1fs", len(expected), time.monotonic() - started)
    if not args.api_url:
        return 0
    pending = confirm(args.api_url, expected, marker, args.confirm_timeout)
    log.info("history: %d days confirmed stored %.1fs after the start%s", len(expected) - len(pending),
             time.monotonic() - started, f"; not confirmed: {sorted(map(str, pending))}" if pending else "")
    return 0 if not pending else 1


def publish_day(door, seed: int, day: date, rate: float) -> tuple[int, int, int]:
    """(events published, leads among them, events the broker did not acknowledge)."""
    events = leads = unacked = 0
    batch: list[dict] = []

    def send() -> None:
        nonlocal events, unacked
        result = door.publish_objects(batch, "simulator-history")
        events += result.accepted
        unacked += result.unacknowledged + result.rejected  # a rejection would be a simulator bug
        batch.clear()

    for item in history.day_items(seed, day, rate):
        batch.append(item)
        leads += item["type"] == "lead"
        if len(batch) >= CHUNK:
            send()
    if batch:
        send()
    return events, leads, unacked


def stored_leads(api_url: str, day: date, probe: int) -> int | None:
    """Leads of `day` in ClickHouse, by the API. `probe` microseconds past midnight end the period: events
    carry milliseconds, so the answer is the day's, and each probe is its own key in the answer cache
    (a closed day's answer is cached for a minute)."""
    start = timeutil.day_start(day)
    end = start + timedelta(days=1, microseconds=probe % 999 + 1)
    try:
        resp = requests.get(f"{api_url.rstrip('/')}/api/v1/kpis", timeout=30,
                            params={"from": start.isoformat(), "to": end.isoformat()})
        resp.raise_for_status()
        return int(resp.json()["leads"])
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        log.debug("history: cannot read the leads of %s yet: %s", day, exc)
        return None


def confirm(api_url: str, expected: dict[date, int], marker: history.Marker, timeout: float) -> set[date]:
    """Mark each day stored once the API counts its leads; returns the days not confirmed in time."""
    pending = set(expected)
    deadline = time.monotonic() + timeout
    probe = 0
    while pending and time.monotonic() < deadline:
        for day in sorted(pending):
            probe += 1
            if stored_leads(api_url, day, probe) == expected[day]:
                pending.discard(day)
                marker.stored.add(day.isoformat())
                marker.save()
                log.info("history %s: stored (%d leads)", day, expected[day])
        if pending:
            time.sleep(CONFIRM_EVERY_S)
    return pending


def with_nice(increment: int) -> None:
    """Let today's stream go first when the machine is busy (the history is not urgent, today is)."""
    try:
        os.nice(increment)
    except OSError:
        log.debug("history: cannot lower the CPU priority")
