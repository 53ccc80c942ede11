"""The cost of one screen refresh on the server: build + serialize the Dash callback answer, and its size.

    flock /tmp/ecc-bench.lock .venv/bin/python bench/wall_refresh.py [--rounds 200]

For the wall and every sub-screen, the refresh request the browser sends every second is posted to the
app's Flask test client (no network, no gunicorn: the cost of the callback itself) over a realistic
snapshot (tests/test_layouts.sample_snapshot: 8 channels, 11 steps, 335 minutes of series). Two cases:
"new" — the snapshot's numbers change before every request (each refresh builds its figures: the first
screen to ask after the worker wrote), "same" — an unchanged snapshot (every other screen in that
second: layouts/memo.py reuses the views). Printed: p50/p95 of the request time, answer size raw and gzip.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

from report import load_average, pct, table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_layouts import sample_snapshot  # noqa: E402
from test_wall_serving import carry, moved, wall_payload  # noqa: E402

from ecc.config import Settings  # noqa: E402
from layouts import screens, wall  # noqa: E402
from layouts.app import create_app  # noqa: E402
from layouts.shared import TickShare  # noqa: E402


def screen_payload(name: str, n: int) -> dict:
    """The sub-screen callback's request as the renderer sends it for screen `name`."""
    kpis, panels = screens.SCREEN_LAYOUTS[name]
    widgets = [w for entry in panels for w in (entry if isinstance(entry, tuple) else (entry,))]
    figs = [{"type": screens.FIG, "name": w} for w in widgets if screens.WIDGETS[w].kind == screens.FIG]
    htmls = [{"type": screens.HTML, "name": w} for w in widgets if screens.WIDGETS[w].kind == screens.HTML]
    kpi_ids = [{"type": screens.KPI_VALUE, "name": k} for k in kpis]
    hint_ids = [{"type": screens.KPI_HINT, "name": k} for k in kpis]
    compare_ids = [{"type": screens.KPI_COMPARE, "name": k} for k in kpis]
    h = screens.HEADER
    fixed = [(h.day, "children"), (h.rates, "children"), (h.session, "children"), (h.session, "className"),
             (h.freshness, "children"), (h.freshness, "className"), (h.tick, "data")]
    outputs = [{"id": c, "property": p} for c, p in fixed]
    outputs += [[{"id": i, "property": "figure"} for i in figs],
                [{"id": i, "property": "children"} for i in htmls]]
    outputs += [[{"id": i, "property": p} for i in kpi_ids] for p in wall.KPI_PROPS]
    outputs += [[{"id": i, "property": "children"} for i in hint_ids]]
    outputs += [[{"id": i, "property": "children"} for i in compare_ids]]

    def wild(kind: str, prop: str) -> str:
        return json.dumps({"name": ["ALL"], "type": kind}, separators=(",", ":")) + "." + prop
    names = [f"{c}.{p}" for c, p in fixed] + [wild(screens.FIG, "figure"), wild(screens.HTML, "children")]
    names += [wild(screens.KPI_VALUE, p) for p in wall.KPI_PROPS] + [wild(screens.KPI_HINT, "children"),
                                                                      wild(screens.KPI_COMPARE, "children")]
    return {"output": ".." + "...".join(names) + "..", "outputs": outputs,
            "inputs": [{"id": h.interval, "property": "n_intervals", "value": n},
                       {"id": "lang-store", "property": "data", "value": "zh"}],
            "state": [[{"id": i, "property": "id", "value": i} for i in figs],
                      [{"id": i, "property": "id", "value": i} for i in htmls],
                      [{"id": i, "property": "id", "value": i} for i in kpi_ids]],
            "changedPropIds": [f"{h.interval}.n_intervals"]}


def measure(client, payload_of, rounds: int) -> tuple[list[float], int, int]:
    times, body = [], b""
    for n in range(rounds):
        started = time.perf_counter()
        resp = client.post("/_dash-update-component", json=payload_of(n))
        times.append(time.perf_counter() - started)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        body = resp.get_data()
    return times, len(body), len(gzip.compress(body))


def steady(app_of, seconds: int, screens_per_second: int) -> tuple[list[float], list[float], int]:
    """The wall in a worker's steady state: each second a new snapshot, then `screens_per_second`
    screens (each with the state its answers set) refresh. Returns the CPU time of the first request
    of each second, of the others, and the mean answer size in bytes (gzip, as sent)."""
    state = {"snapshot": sample_snapshot(), "second": 0}
    # One read per second and worker, as layouts/server.py composes it (layouts/shared.py).
    shared = TickShare(lambda: state["snapshot"], window_s=1, clock=lambda: state["second"])
    client = app_of(shared).server.test_client()
    payloads = [wall_payload(0) for _ in range(screens_per_second)]
    first, rest, sizes = [], [], []
    for second in range(seconds):
        state["snapshot"], state["second"] = moved(state["snapshot"], second), second
        for i in range(screens_per_second):
            started = time.process_time()
            resp = client.post("/_dash-update-component", json=payloads[i],
                               headers={"Accept-Encoding": "gzip"})
            (first if i == 0 else rest).append(time.process_time() - started)
            assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
            sizes.append(len(resp.get_data()))
            payloads[i] = carry(payloads[i], json.loads(gzip.decompress(resp.get_data())))
    return first, rest, sum(sizes) // len(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--steady", type=int, default=0, metavar="SECONDS",
                        help="instead: the wall's steady state for this many simulated seconds")
    parser.add_argument("--per-second", type=int, default=25, help="screens per second and worker (--steady)")
    args = parser.parse_args()
    if args.steady:
        before = load_average()
        first, rest, size = steady(lambda provider: create_app(Settings(refresh_ms=1000), provider),
                                   args.steady, args.per_second)
        after = load_average()
        title = (f"the wall's steady state: {args.steady} s x {args.per_second} screens, CPU ms per request "
                 f"(load {before:.2f} -> {after:.2f})")
        print(table(title, ["requests", "p50", "p95", "mean", "answer (gzip)"], [
            [label, f"{pct(xs, 0.5) * 1000:.2f}", f"{pct(xs, 0.95) * 1000:.2f}",
             f"{sum(xs) / len(xs) * 1000:.2f}", f"{size:,} B" if label == "others" else ""]
            for label, xs in (("first of a second", first), ("others", rest))]))
        return
    state = {"snapshot": sample_snapshot(), "change": False}

    def provider() -> dict:
        if state["change"]:  # the worker wrote new numbers since the last request
            snapshot = state["snapshot"]
            snapshot["totals"] = {**snapshot["totals"], "leads": snapshot["totals"]["leads"] + 1}
        return state["snapshot"]

    app = create_app(Settings(refresh_ms=1000), provider)
    client = app.server.test_client()
    before = load_average()
    rows = []
    cases = [("wall", wall_payload)] + [(name, lambda n, name=name: screen_payload(name, n))
                                         for name in screens.SCREEN_LAYOUTS]
    for name, payload_of in cases:
        for change in (True, False):
            state["change"] = change
            measure(client, payload_of, 5)  # warm up
            times, raw, packed = measure(client, payload_of, args.rounds)
            rows.append([name, "new" if change else "same", f"{pct(times, 0.5) * 1000:.1f}",
                         f"{pct(times, 0.95) * 1000:.1f}", f"{raw / 1024:.1f}", f"{packed / 1024:.1f}"])
    after = load_average()
    title = f"one refresh on the server ({args.rounds} rounds each; load {before:.2f} -> {after:.2f})"
    print(table(title, ["screen", "snapshot", "p50 ms", "p95 ms", "answer KiB", "gzip KiB"], rows))


if __name__ == "__main__":
    main()
