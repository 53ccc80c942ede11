"""Web app under slow and many clients (issue 6, finding 7): the wall's refresh latency while others load it.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/web_load.py            # starts the embedded stack
    flock /tmp/ecc-bench.lock .venv/bin/python bench/web_load.py --url http://127.0.0.1:8050

The wall's refresh is the Dash callback request the page sends every second (`POST /_dash-update-component`
with the wall's outputs). It is timed, one request after another, during three phases:
(a) nothing else; (b) `--slow` clients sending a POST body at 1 byte/s; (c) `--many` concurrent
`GET /api/v1/kpis` for `--seconds` (p50/p95 and errors of those too). 127.0.0.1 only; every loop bounded.

The crowd of (c) runs in its own process (a wall screen is another machine, and timing it from a thread
that shares one interpreter lock with 200 busy client threads measured the load generator, not the server),
on one event loop (aiohttp): 200 `requests` threads took most of a core themselves.
Both still share this machine's 2 cores with the server: the figures are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import time
from urllib.parse import urlsplit

import aiohttp
import requests
from report import load_average, pct, table

from layouts import wall

log = logging.getLogger("bench.web_load")
SETTLED_LAG = 250  # events not yet consumed: 5 s of the simulator's 50/s


def refresh_payload(n: int, trend_state: object = None, drawn: object = None) -> dict:
    """The wall's refresh request as its page sends it, with what that page shows (`trend_state`,
    `drawn`: the previous answer's), so views it already has are not sent again (layouts/wall.py)."""
    outputs = [{"id": c, "property": p} for c, p in wall._OUTPUTS]
    return {"output": ".." + "...".join(f"{c}.{p}" for c, p in wall._OUTPUTS) + "..",
            "outputs": outputs,
            "inputs": [{"id": wall.ID_INTERVAL, "property": "n_intervals", "value": n},
                       {"id": "lang-store", "property": "data", "value": "zh"}],
            "changedPropIds": [f"{wall.ID_INTERVAL}.n_intervals"],
            "state": [{"id": wall.ID_TREND_STATE, "property": "data", "value": trend_state},
                      {"id": wall.ID_DRAWN, "property": "data", "value": drawn}]}


def time_wall(url: str, seconds: float, timeout: float = 30.0) -> tuple[list[float], int]:
    """Wall refresh latencies (s) for `seconds`, one request at a time like one wall screen (keeping what
    it shows between requests, as the page does); and errors."""
    latencies, errors, n = [], 0, 0
    shown: dict = {}
    deadline = time.monotonic() + seconds
    with requests.Session() as http:
        while time.monotonic() < deadline:
            n += 1
            started = time.monotonic()
            try:
                payload = refresh_payload(n, shown.get(wall.ID_TREND_STATE), shown.get(wall.ID_DRAWN))
                resp = http.post(f"{url}/_dash-update-component", json=payload, timeout=timeout)
                ok = resp.status_code == 200
                if ok:
                    answer = resp.json().get("response", {})
                    shown.update({key: answer[key]["data"] for key in (wall.ID_TREND_STATE, wall.ID_DRAWN)
                                  if key in answer})
                if not ok:
                    log.warning("wall refresh: HTTP %s %s", resp.status_code, resp.text[:200])
            except requests.RequestException as exc:
                ok = False
                log.warning("wall refresh failed: %s", exc)
            elapsed = time.monotonic() - started
            if ok:
                latencies.append(elapsed)
            else:
                errors += 1
            time.sleep(max(0.0, 1.0 - elapsed))  # the wall asks once a second
    return latencies, errors


def slow_clients(url: str, count: int, stop: threading.Event) -> list[threading.Thread]:
    """`count` clients announcing a 10 kB NDJSON body and sending it at 1 byte/s until `stop`."""
    parts = urlsplit(url)

    def run():
        try:
            s = socket.create_connection((parts.hostname, parts.port), timeout=5)
            s.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                      b"Content-Length: 10000\r\n\r\n")
            for _ in range(10_000):
                if stop.wait(1.0):
                    break
                s.sendall(b"{")
            s.close()
        except OSError as exc:  # the server may time the client out (408): that is the point
            log.debug("slow client ended: %s", exc)
    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    return threads


def crowd(url: str, count: int, seconds: float, results) -> None:
    """`count` concurrent clients on /kpis for `seconds`, in a process of their own; (latencies, errors)
    go back through `results` (a multiprocessing queue)."""
    results.put(asyncio.run(many_clients(url, count, seconds)))


async def many_clients(url: str, count: int, seconds: float) -> tuple[list[float], int]:
    """`count` clients on one event loop (aiohttp), each with its own kept-alive connection, each sending
    its next request when the last was answered. 200 threads of `requests` took most of a core of the 2
    the server also needs, and timed their own wait for this process's interpreter lock: the crowd is
    the load, it should not also be the bottleneck."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                async with http.get(f"{url}/api/v1/kpis") as answer:
                    await answer.read()
                    ok = answer.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append(time.monotonic() - started)
            else:
                errors += 1

    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(client(http) for _ in range(count)))
    return latencies, errors


def settle(url: str, timeout: float = 600.0) -> None:
    """Until the stack is past its start: the simulator's backfill stored (ClickHouse's newest event within
    a few seconds of now, and the sink's and the worker's lag down to a few seconds of events), then 15 s
    more for the first context and figures. Measuring from the 5th second timed the start-up (the
    backfill, the first ClickHouse context, the first figures): 178 ms at p50 for the lone wall where the
    settled stack answers in 20-40 ms. The newest event alone was not enough: in the evening the day's
    backfill (20 h of events) was still being stored when it was fresh, and the sink's thread, busy the
    whole 25 s of a py-spy sample, took the interpreter from the wall's refresh in the same process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fresh = requests.get(f"{url}/api/v1/kpis", timeout=30).json().get("freshness_s")
            parts = requests.get(f"{url}/api/v1/health", timeout=30).json()["components"]
            caught_up = all(parts[name].get("lag") is not None and parts[name]["lag"] <= SETTLED_LAG
                            for name in ("sink", "worker"))
            if fresh is not None and fresh < 5 and caught_up:
                break
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(1)
    else:
        log.warning("the stack did not settle in %.0f s: the figures include its start-up", timeout)
    time.sleep(15)


def row(name: str, lat: list[float], errors: int) -> list[str]:
    if not lat:
        return [name, "0", str(errors), "—", "—", "—"]
    return [name, str(len(lat)), str(errors), f"{pct(lat, 0.5) * 1000:.0f}", f"{pct(lat, 0.95) * 1000:.0f}",
            f"{max(lat) * 1000:.0f}"]


def measure(url: str, args) -> str:
    load_before = load_average()
    requests.get(f"{url}/api/v1/kpis", timeout=60)  # warm the query path once
    rows = [row("(a) wall refresh, alone", *time_wall(url, args.seconds))]
    stop = threading.Event()
    slow = slow_clients(url, args.slow, stop)
    time.sleep(2)
    rows.append(row(f"(b) wall refresh, {args.slow} slow clients", *time_wall(url, args.seconds)))
    stop.set()
    for t in slow:
        t.join(5)
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    load = spawn.Process(target=crowd, args=(url, args.many, args.seconds + 2, results), daemon=True)
    load.start()
    time.sleep(2)  # the crowd's threads are up and its requests queue at the server before the wall is timed
    rows.append(row(f"(c) wall refresh, {args.many} clients on /kpis", *time_wall(url, args.seconds)))
    latencies, errors = results.get(timeout=args.seconds + 120)
    load.join(30)
    rows.append(row(f"(c) GET /api/v1/kpis x {args.many}", latencies, errors))
    return table(f"web load ({url}; {args.seconds:.0f} s a phase; load average {load_before:.2f} before, "
                 f"{load_average():.2f} after)",
                 ["phase", "requests", "errors", "p50 ms", "p95 ms", "max ms"], rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running ECC (default: start the embedded stack, no simulator)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--slow", type=int, default=8)
    p.add_argument("--many", type=int, default=200)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.url:
        print(measure(args.url.rstrip("/"), args))
        return 0
    from ecc.config import Settings
    from ecc.embedded import Stack, free_port

    data = tempfile.mkdtemp(prefix="ecc-web-load-")
    try:
        key = os.environ.get("ECC_PHONE_HASH_KEY", "bench-only-" + "k" * 40)
        settings = Settings(data_dir=data, phone_hash_key=key)
        with Stack(settings, port=free_port(), simulate=True,
                   simulate_args=["--rate", "50", "--backfill-minutes", "5"]) as stack:
            settle(stack.url)
            print(measure(stack.url, args))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
