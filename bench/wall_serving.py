"""The serving path of the wall (issue 8, item 8): 50 screens refreshing every second against gunicorn with
2 workers; the server CPU it costs; first paint of the wall; page weight.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/wall_serving.py [--screens 50] [--seconds 60]
        [--workers 2] [--rate 1] [--port 8177]

1. The embedded stack (tansu, Valkey, the stream worker, its own web process with the sink and chDB, the
   simulator backfilling today from midnight) keeps the live store moving, as in the demo.
2. A second `ecc web`-like gunicorn (the same argv: ECC's buffering worker, 16 threads) with `--workers`
   workers serves the same app over the same Redis. Production reads a ClickHouse server; here there is
   none, and the embedded chDB admits one process, so each worker opens an empty chDB of its own
   (bench/wall_serving_conf.py). The wall's refresh reads the live snapshot from Redis; a ClickHouse
   read it makes (the wall's context) answers from an empty store, so it costs less than in production.
3. Chromium (Playwright) opens the wall on that server: first paint = navigation start to the KPI numbers
   visible (`#kpi-leads` shows a digit), from `performance.now()`; page weight = bytes on the wire
   (bodies as sent, gzip, plus headers) of every request until then and after 3 s, cold and warm (a
   second visit with the browser cache). The refresh requests the page sends on its 1 s tick are recorded.
4. `--screens` clients replay those requests (the tick number advanced) once a second each, in their own
   processes, starting at random offsets inside the first second as real screens do. Latency of an update
   = the time until every request of that tick has answered. Server CPU = CPU seconds of the gunicorn
   master and workers (and of Valkey, reported apart: the live stream writes it too) per wall second;
   also the load generator's own CPU, and everything else the machine ran meanwhile (the stack, the
   browser's idle page, other people's jobs: /proc/stat minus the rest), so a tail can be read against
   how many of the 2 cores the server actually had.
5. `--profile FILE` runs the server under py-spy (a tool, not a dependency: `pip install py-spy`) and
   writes its samples as collapsed stacks; that run's figures include py-spy's own CPU.

Everything shares this machine's 2 cores: the load generator, the browser, the stack and the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from report import load_average, machine_cpu_seconds, pct, table

from ecc.config import Settings
from ecc.embedded import Stack, wait_for_port

log = logging.getLogger("bench.wall_serving")
ROOT = Path(__file__).resolve().parents[1]
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KPI_VISIBLE = ("() => { const el = document.querySelector('#kpi-leads'); "
               "return !!el && /\\d/.test(el.textContent) }")
WARMUP_S = 5.0
IDLE_S = 10.0


# ---- the server under test ----

def start_server(stack: Stack, port: int, workers: int, folder: Path,
                 profile: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, **stack.settings.to_env(), "ECC_WEB_RUNS_SINK": "0", "ECC_AUTH": "off",
           "ECC_BENCH_CHDB_BASE": str(folder)}
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "ecc.web.webworker.BufferingWorker", "--threads", "16", "--timeout", "120",
            "--no-control-socket", "--log-level", "warning", "--config",
            str(ROOT / "bench" / "wall_serving_conf.py"), "layouts.server:application()"]
    if profile:  # py-spy samples the workers from the master's start (attaching later needs ptrace rights)
        argv = [profile_tool(), "record", "--subprocesses", "--format", "raw", "--rate", "200",
                "--output", str(profile), "--", *argv]
    out = (folder / "gunicorn.log").open("ab")
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                            start_new_session=True)
    wait_for_port(port, 120, proc, "gunicorn")
    return proc


def stop_server(server: subprocess.Popen, profiled: bool) -> None:
    if profiled:  # py-spy writes its samples on SIGINT; gunicorn (its child) is stopped after
        server.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(30)


def profile_tool() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("--profile needs py-spy on PATH (pip install py-spy; a tool, not a dependency)")
    return found


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (gunicorn's workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = [pid], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        tree += sorted(frontier)
    return tree


def warm_up(url: str, workers: int, timeout: float = 300.0) -> None:
    """Wait until every worker has built the app: gunicorn's master listens before its workers have
    imported Dash and opened their stores, and a first paint would time that start-up instead."""
    deadline = time.monotonic() + timeout
    quick = 0
    with requests.Session() as http:
        while quick < 4 * workers and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                ok = http.get(f"{url}/_dash-layout", timeout=60).status_code == 200
            except requests.RequestException:
                ok = False
            quick = quick + 1 if ok and time.monotonic() - started < 1.0 else 0
            http.close()  # a new connection: the next request may land on the other worker


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


# ---- the browser: first paint, page weight, the refresh requests ----

def browse(url: str, folder: Path, visits: int = 3) -> dict:
    """`visits` pairs of a cold visit (a new browser context: an empty cache) and a warm one (the same
    context again): first paint varies from one visit to the next on a shared machine."""
    from playwright.sync_api import sync_playwright

    out: dict = {"cold": [], "warm": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        try:
            warm = browser.new_context(viewport={"width": 1920, "height": 1080})
            page = warm.new_page()  # the server's first page (figure code paths, the wall's context)
            page.goto(f"{url}/", wait_until="commit")
            page.wait_for_function(KPI_VISIBLE, timeout=300_000)
            warm.close()
            for n, visit in ((n, v) for n in range(visits) for v in ("cold", "warm")):
                if visit == "cold":
                    context = browser.new_context(viewport={"width": 1920, "height": 1080})  # empty cache
                page = context.new_page()
                sizes: list[int] = []
                ticks: list[dict] = []
                heaviest: list[tuple[int, str]] = []

                def finished(req, sizes=sizes, ticks=ticks, heaviest=heaviest):
                    try:
                        s = req.sizes()
                        sizes.append(s["responseBodySize"] + s["responseHeadersSize"])
                        heaviest.append((sizes[-1], req.url.split("?")[0].rsplit("/", 1)[-1]))
                    except Exception:  # a request the page cancelled has no sizes
                        return
                    if req.method == "POST" and "/_dash-update-component" in req.url:
                        body = json.loads(req.post_data or "{}")
                        if any(p.endswith(".n_intervals") for p in body.get("changedPropIds", [])):
                            ticks.append(body)

                page.on("requestfinished", finished)
                page.goto(f"{url}/", wait_until="commit")
                page.wait_for_function(KPI_VISIBLE, timeout=180_000)
                paint_ms = page.evaluate("performance.now()")
                painted_bytes, painted_requests = sum(sizes), len(sizes)
                page.wait_for_timeout(3000)
                out[visit].append({"first_paint_ms": paint_ms, "bytes_to_paint": painted_bytes,
                                   "requests_to_paint": painted_requests, "bytes_3s": sum(sizes),
                                   "requests_3s": len(sizes)})
                if visit == "cold" and n == 0:
                    page.screenshot(path=str(folder / "wall.png"))
                    out["ticks"] = ticks
                    out["heaviest"] = sorted(heaviest, reverse=True)[:5]
                page.close()
                if visit == "warm":
                    context.close()
        finally:
            browser.close()
    return out


def one_tick(ticks: list[dict]) -> list[dict]:
    """The requests of one tick of the page: those with the first recorded n_intervals value."""
    def n_of(body: dict) -> object:
        return next((i.get("value") for i in body.get("inputs", []) if i.get("property") == "n_intervals"),
                    None)
    if not ticks:
        raise RuntimeError("the page sent no refresh request on its tick")
    first = n_of(ticks[-1])
    return [b for b in ticks if n_of(b) == first]


def with_tick(body: dict, n: int) -> dict:
    inputs = [{**i, "value": n} if i.get("property") == "n_intervals" else i for i in body["inputs"]]
    return {**body, "inputs": inputs}


def carry_state(body: dict, answer: dict) -> dict:
    """The next request as the browser would send it: states the answer set (the trend's drawn minutes,
    the versions of the views shown) go back with it."""
    response = answer.get("response", {}) if isinstance(answer, dict) else {}

    def updated(s: dict) -> dict:
        new = response.get(s.get("id"), {}) if isinstance(s.get("id"), str) else {}
        return {**s, "value": new[s["property"]]} if s.get("property") in new else s
    return {**body, "state": [updated(s) if isinstance(s, dict) else s for s in body.get("state", [])]}


# ---- the screens ----

def screens_process(url: str, bodies: list[dict], screens: int, seconds: float, seed: int, results) -> None:
    """`screens` screens in one process, a thread each: every second, the tick's requests in parallel."""
    rng = random.Random(seed)
    lock = threading.Lock()
    samples: list[tuple[float, float]] = []
    errors = [0]
    deadline = time.monotonic() + seconds

    def screen(offset: float) -> None:
        sessions = [requests.Session() for _ in bodies]
        mine = [dict(body) for body in bodies]  # this screen's requests, with the states it holds
        n = 1000 + int(offset * 1000)
        next_at = time.monotonic() + offset
        while True:
            next_at += 1.0
            started = time.monotonic()
            if started >= deadline:
                break
            n += 1
            answers: list = [None] * len(bodies)

            def post(i: int, n=n, answers=answers) -> None:
                try:
                    answer = sessions[i].post(f"{url}/_dash-update-component", json=with_tick(mine[i], n),
                                              timeout=30, headers={"Accept-Encoding": "gzip"})
                    answers[i] = answer.status_code
                    if answer.status_code == 200:
                        mine[i] = carry_state(mine[i], answer.json())
                except (requests.RequestException, ValueError):
                    answers[i] = -1
            threads = [threading.Thread(target=post, args=(i,)) for i in range(1, len(bodies))]
            for t in threads:
                t.start()
            post(0)
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            with lock:
                if all(a in (200, 204) for a in answers):
                    samples.append((started, elapsed))
                else:
                    errors[0] += 1
            time.sleep(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=screen, args=(rng.random(),), daemon=True) for _ in range(screens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    results.put((samples, errors[0]))


def run_screens(url: str, bodies: list[dict], screens: int, seconds: float, processes: int):
    results: multiprocessing.Queue = multiprocessing.Queue()
    per = [screens // processes + (1 if i < screens % processes else 0) for i in range(processes)]
    procs = [multiprocessing.Process(target=screens_process, args=(url, bodies, n, seconds, i, results))
             for i, n in enumerate(per) if n]
    for p in procs:
        p.start()
    gathered = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    samples = [s for part, _ in gathered for s in part]
    return samples, sum(e for _, e in gathered)


# ---- main ----

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--screens", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=1.0, help="the simulator's events/s (the demo's default)")
    ap.add_argument("--port", type=int, default=8177, help="the server under test")
    ap.add_argument("--stack-port", type=int, default=8178, help="the embedded stack's own web process")
    ap.add_argument("--processes", type=int, default=5, help="load generator processes")
    ap.add_argument("--visits", type=int, default=3, help="cold and warm visits of the wall in chromium")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--profile", type=Path, help="run the server under py-spy and write its samples here "
                    "(collapsed stacks; the figures of such a run include py-spy's own CPU)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_before = load_average()
    folder = Path(tempfile.mkdtemp(prefix="h6-wall-serving-", dir="/tmp"))
    stack = Stack(Settings(data_dir=str(folder / "stack")), port=args.stack_port, simulate=True,
                  simulate_args=["--rate", str(args.rate)])
    server = None
    try:
        stack.start()
        server = start_server(stack, args.port, args.workers, folder, args.profile)
        url = f"http://127.0.0.1:{args.port}"
        warm_up(url, args.workers)
        seen = browse(url, folder, args.visits)
        bodies = one_tick(seen.pop("ticks"))
        log.info("replaying %d request(s) per tick: %s", len(bodies),
                 [b.get("output", "")[:60] for b in bodies])
        pids = process_tree(server.pid)
        idle0 = cpu_seconds(pids)
        time.sleep(IDLE_S)  # what the server costs with no screen: its background threads, chDB's
        idle_cpu = (cpu_seconds(pids) - idle0) / IDLE_S
        valkey = next(c for c in stack.children if c.name == "valkey").proc.pid
        cpu0, valkey0, t0 = cpu_seconds(pids), cpu_seconds([valkey]), time.monotonic()
        load0, machine0 = children_cpu_seconds(), machine_cpu_seconds()
        samples, errors = run_screens(url, bodies, args.screens, args.seconds, args.processes)
        wall_s = time.monotonic() - t0
        cpu = (cpu_seconds(process_tree(server.pid)) - cpu0) / wall_s
        valkey_cpu = (cpu_seconds([valkey]) - valkey0) / wall_s
        # the load generator's processes have ended (joined): their CPU is in this process's children's
        load_cpu = (children_cpu_seconds() - load0) / wall_s
        rest_cpu = (machine_cpu_seconds() - machine0) / wall_s - cpu - valkey_cpu - load_cpu
        first = min(s for s, _ in samples) if samples else 0
        steady = [lat * 1000 for s, lat in samples if s - first >= WARMUP_S]
        load_after = load_average()
    finally:
        if server is not None:
            stop_server(server, profiled=args.profile is not None)
        stack.stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rows = [[f"{args.screens} screens x 1/s, {args.workers} workers", f"{len(steady):,}", f"{errors}",
             f"{pct(steady, .5):.1f}", f"{pct(steady, .95):.1f}", f"{pct(steady, .99):.1f}",
             f"{max(steady):.0f}", f"{cpu:.2f}", f"{valkey_cpu:.2f}", f"{load_cpu:.2f}", f"{rest_cpu:.2f}"]]
    print(table("Wall refresh under load (ms; CPU = CPU seconds per wall second)",
                ["run", "updates", "errors", "p50", "p95", "p99", "max", "server CPU", "Valkey CPU",
                 "load generator CPU", "everything else"], rows))
    print()
    print(table("Wall in chromium at 1920x1080 (bytes on the wire, gzip, headers included)",
                ["visit", "first paint ms", "requests to paint", "bytes to paint", "requests 3 s",
                 "bytes 3 s"],
                [[f"{v} {i + 1}", f"{one['first_paint_ms']:.0f}", one["requests_to_paint"],
                  f"{one['bytes_to_paint']:,}", one["requests_3s"], f"{one['bytes_3s']:,}"]
                 for v in ("cold", "warm") for i, one in enumerate(seen[v])]))
    print("first paint, median of the visits: " + ", ".join(
        f"{v} {pct([one['first_paint_ms'] for one in seen[v]], .5):.0f} ms" for v in ("cold", "warm")))
    print("heaviest on a cold visit: " + ", ".join(f"{name} {size:,}" for size, name in seen["heaviest"]))
    print(f"server CPU with no screen: {idle_cpu:.3f} CPU-s/s; per update: "
          f"{(cpu - idle_cpu) / (len(samples) / wall_s) * 1000:.1f} ms of CPU")
    print(f"\nrequests per tick: {len(bodies)}; load average {load_before:.2f} before, "
          f"{load_after:.2f} after; {os.cpu_count()} cores shared by the load generator, the browser, "
          "the stack and the server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
