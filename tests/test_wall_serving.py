"""The serving path of the wall under many screens (issue 8): one snapshot read per tick and process, one
build per view, views kept in the JSON form Dash sends. No browser; real threads, the real Dash app."""

from __future__ import annotations

import gzip
import json
import threading
import time
from datetime import datetime, timedelta

import orjson
import pytest
from dash import no_update
from plotly.io.json import to_json_plotly
from test_layouts import sample_snapshot

from ecc.config import Settings
from ecc.timeutil import TZ
from layouts import ids, wall
from layouts.app import create_app
from layouts.memo import SharedSnapshot, ViewMemo, digest, wire
from layouts.shared import TickShare

# ---- a browser's refresh requests (bench/wall_refresh.py replays them too) ----

def wall_payload(n: int) -> dict:
    outputs = [{"id": c, "property": p} for c, p in wall._OUTPUTS]
    return {"output": ".." + "...".join(f"{c}.{p}" for c, p in wall._OUTPUTS) + "..", "outputs": outputs,
            "inputs": [{"id": wall.ID_INTERVAL, "property": "n_intervals", "value": n},
                       {"id": "lang-store", "property": "data", "value": "zh"}],
            "changedPropIds": [f"{wall.ID_INTERVAL}.n_intervals"],
            "state": [{"id": wall.ID_TREND_STATE, "property": "data", "value": None},  # a fresh page:
                      {"id": wall.ID_DRAWN, "property": "data", "value": None}]}  # everything is sent


def carry(payload: dict, answer: dict) -> dict:
    """The next request as the browser sends it: the states the answer set go back with it."""
    response = answer.get("response", {})

    def updated(s: dict) -> dict:
        new = response.get(s["id"], {}) if isinstance(s.get("id"), str) else {}
        return {**s, "value": new[s["property"]]} if s["property"] in new else s
    return {**payload, "state": [updated(s) for s in payload["state"]]}


def moved(snapshot: dict, second: int) -> dict:
    """The snapshot one second later, as the simulator moves it: a lead in one channel (the channel
    chart and the KPIs change), every third second a step of the funnel, the clock."""
    totals = {**snapshot["totals"], "leads": snapshot["totals"]["leads"] + 1}
    by_channel = dict(snapshot["by_channel"])
    code = sorted(by_channel)[second % len(by_channel)]
    by_channel[code] = {**by_channel[code], "leads": by_channel[code]["leads"] + 1}
    if second % 3 == 0:
        totals["reach"] = {**totals["reach"], "2": totals["reach"]["2"] + 1}
    at = datetime.fromisoformat(snapshot["generated_at"]) + timedelta(seconds=1)
    return {**snapshot, "totals": totals, "by_channel": by_channel, "generated_at": at.isoformat()}


# ---- tests ----


def test_a_view_missed_by_many_threads_at_once_is_built_once():
    memo = ViewMemo()
    builds = []
    start = threading.Barrier(12)

    def build() -> dict:
        builds.append(1)
        time.sleep(0.05)  # long enough for every other thread to arrive meanwhile
        return {"built": len(builds)}
    got = []

    def ask() -> None:
        start.wait()
        got.append(memo.get("channels", build))
    threads = [threading.Thread(target=ask) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and all(value is got[0] for value in got)
    assert (memo.misses, memo.hits) == (1, 11)


def test_a_failed_build_fails_its_waiters_and_is_tried_again():
    memo = ViewMemo()
    with pytest.raises(ZeroDivisionError):
        memo.get("x", lambda: 1 / 0)
    assert memo.get("x", lambda: 2) == 2


def test_views_on_the_wire_are_exactly_what_dash_would_send():
    now = datetime(2026, 11, 23, 10, 15, 20, tzinfo=TZ)
    for lang in ("zh", "en"):
        for value, output in zip(wall.render(sample_snapshot(now), lang, now), wall._OUTPUTS, strict=True):
            if value is not no_update:  # a fresh page gets the whole trend: no delta
                assert wire(value) == orjson.loads(to_json_plotly(value)), output
    served = wall.render(sample_snapshot(now), "zh", now, ViewMemo())
    sent = [value for value in served if value is not no_update]
    delta_at = wall._OUTPUTS.index((wall.ID_TREND_DELTA, "data"))
    assert len(sent) == len(served) - 1 and served[delta_at] is no_update
    assert orjson.dumps(sent)  # plain JSON data all through: Dash encodes it without plotly's walk


def test_one_snapshot_read_per_window_shared_by_every_request():
    clock = [0.0]
    reads = []

    def provider() -> dict:
        reads.append(clock[0])
        return {"totals": {"leads": len(reads)}}
    share = TickShare(provider, window_s=0.25, clock=lambda: clock[0])
    first = share()
    assert isinstance(first, SharedSnapshot) and share() is first and first.key == digest(dict(first))
    clock[0] = 0.2
    assert share() is first and len(reads) == 1
    clock[0] = 0.3  # the window is over: the next request reads afresh
    assert share()["totals"]["leads"] == 2 and len(reads) == 2


def test_requests_arriving_during_a_read_wait_for_it():
    gate = threading.Event()
    reads = []

    def slow() -> dict:
        reads.append(1)
        gate.wait(5)
        return {"day": "2026-11-23"}
    share = TickShare(slow, window_s=10)
    got = []
    threads = [threading.Thread(target=lambda: got.append(share())) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert len(reads) == 1 and len(got) == 8 and all(value is got[0] for value in got)


def test_a_failed_read_is_not_kept():
    answers = iter([RuntimeError("redis"), {"day": "2026-11-23"}])

    def provider() -> dict:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer
    share = TickShare(provider, window_s=60)
    with pytest.raises(RuntimeError):
        share()
    assert share() == {"day": "2026-11-23"}


def test_many_screens_get_the_numbers_of_a_snapshot_of_their_own_second():
    """25 screens a second, each carrying the state its answers set (trend drawn, views drawn), over a
    moving snapshot: every answer is the numbers of that second's snapshot, the unchanged views are not
    sent again, and each second builds each changed view once."""
    state = {"snapshot": sample_snapshot(), "second": 0}
    share = TickShare(lambda: state["snapshot"], window_s=1, clock=lambda: state["second"])
    client = create_app(Settings(refresh_ms=1000), share).server.test_client()
    payloads = [wall_payload(0) for _ in range(25)]
    channel_figures = []
    for second in range(4):
        state["snapshot"], state["second"] = moved(state["snapshot"], second), second
        leads = state["snapshot"]["totals"]["leads"]
        for i in range(25):
            resp = client.post("/_dash-update-component", json=payloads[i],
                               headers={"Accept-Encoding": "gzip"})
            assert resp.status_code == 200
            answer = json.loads(gzip.decompress(resp.get_data()))
            payloads[i] = carry(payloads[i], answer)
            out = answer["response"]
            assert out["kpi-leads"]["data-value"] == str(leads)
            if second == 0:  # a fresh page gets every view
                assert "figure" in out[wall.ID_FUNNEL_GRAPH] and "figure" in out[wall.ID_ASSET_GRAPH]
            else:  # one lead moved: the channel chart changed, the donut did not
                assert wall.ID_ASSET_GRAPH not in out
                assert wall.ID_TREND_GRAPH not in out and out[wall.ID_TREND_DELTA]["data"]["from"]
            channel_figures.append(json.dumps(out[wall.ID_CHANNEL_GRAPH]["figure"], sort_keys=True))
        assert len(set(channel_figures[-25:])) == 1  # the same figure for every screen of the second
    assert share.reads == 4


def _route(client, pathname: str = "/", search: str = "") -> dict:
    """The router's answer for a page, as the browser asks for it after loading the shell."""
    payload = {"output": f"..{ids.PAGE}.children...{ids.LANG_STORE}.data..",
               "outputs": [{"id": ids.PAGE, "property": "children"},
                           {"id": ids.LANG_STORE, "property": "data"}],
               "inputs": [{"id": ids.URL, "property": "pathname", "value": pathname},
                          {"id": ids.URL, "property": "search", "value": search}],
               "changedPropIds": [f"{ids.URL}.pathname"], "state": []}
    resp = client.post("/_dash-update-component", json=payload)
    assert resp.status_code == 200
    return resp.get_json()["response"][ids.PAGE]["children"]


def _kpi_value(page: dict, key: str) -> dict:
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == wall.kpi_id(key):
                found.append(node["props"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(page)
    return found[0]


def test_the_wall_page_comes_with_its_numbers_and_without_them_when_the_store_fails():
    """The first paint needs no refresh: the router draws the KPI cards from the live snapshot; a
    snapshot that cannot be read (or a store being rebuilt) draws the page with "—" all the same."""
    state: dict = {"answer": sample_snapshot()}

    def provider() -> dict:
        if isinstance(state["answer"], Exception):
            raise state["answer"]
        return state["answer"]
    client = create_app(Settings(refresh_ms=1000), provider).server.test_client()
    leads = _kpi_value(_route(client), "leads")
    assert leads["children"] == ["18,642"] and leads["data-value"] == "18642"
    for answer in (ConnectionError("redis is down"), {"error": "live store unreachable"},
                   {**sample_snapshot(), "live_state": {"state": "rebuilding"}}):
        state["answer"] = answer
        assert _kpi_value(_route(client, search="?lang=en"), "leads")["children"] == ["—"]


# A figure built in one thread while another imports pandas for the first time (a chDB answer converted
# through pyarrow/pandas): plotly's validators look pandas up in sys.modules without importing it
# (`get_module("pandas", should_load=False)`) and find the half-initialized module, "partially
# initialized module 'pandas' has no attribute 'Series'" (issue 8: a 500 on the wall's first refresh after
# the demo restarted its web process). The web process's root imports them before it serves.
_FIRST_IMPORT_RACE = """
import sys, threading
import layouts.server  # the web process's root, as gunicorn loads it
from test_layouts import sample_snapshot
from layouts.figures import funnel_figure
snapshot = sample_snapshot()
funnel_figure(snapshot, "zh")  # plotly's validators built before the race
errors, done = [], threading.Event()
def build():
    while not done.is_set():
        try:
            funnel_figure(snapshot, "zh")
        except Exception as exc:
            errors.append(repr(exc))
            return
threads = [threading.Thread(target=build) for _ in range(2)]
for thread in threads:
    thread.start()
import pyarrow, pandas  # the first chDB answer's conversion
done.set()
for thread in threads:
    thread.join()
print(errors[:1])
sys.exit(1 if errors else 0)
"""


def test_figures_built_while_pandas_is_first_imported():
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    env = {"PYTHONPATH": f"{tests}:{tests.parent}", "PATH": "/usr/bin"}
    proc = subprocess.run([sys.executable, "-c", _FIRST_IMPORT_RACE], cwd=tests.parent, capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
