"""The in-place refresh of a drill-down page (assets/drill.js `dash_clientside.drill.refresh`), run in
node on real component trees that layouts/drill_views.py builds: which props it sets on which ids, and when
it falls back to a parent's children or the whole view."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import plotly
import pytest

from layouts.drill_filters import parse
from layouts.drill_views import kpi_cards

NODE = shutil.which("node")
DRILL_JS = Path(__file__).parent.parent / "assets" / "drill.js"
HARNESS = """
global.window = {};
global.document = {addEventListener() {}, querySelector() { return null; }, documentElement: {}};
global.MutationObserver = class { observe() {} };
require(process.argv[1]);
const [current, next] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const sets = [];
window.dash_clientside.no_update = '__no_update__';
window.dash_clientside.set_props = (id, props) => sets.push([id, props]);
const out = window.dash_clientside.drill.refresh({body: next}, current);
process.stdout.write(JSON.stringify({out, sets}));
"""


def refresh(current, nxt) -> dict:
    payload = json.dumps([current, nxt], cls=plotly.utils.PlotlyJSONEncoder)
    done = subprocess.run([NODE, "-e", HARNESS, str(DRILL_JS)], input=payload, capture_output=True,
                          text=True, timeout=60, check=True)
    return json.loads(done.stdout)


pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def cards(leads: int, extra_props: dict | None = None) -> list:
    tree = kpi_cards({"leads": leads, "dial_rate": 0.25, "aum": "1234.50"}, {"leads": 10}, parse(""), "/",
                     "前一日同期")
    return [json.loads(json.dumps(tree, cls=plotly.utils.PlotlyJSONEncoder))]


def test_a_change_lands_on_the_nearest_id_only():
    before, after = cards(12), cards(15)
    result = refresh(before, after)
    assert result["out"] == "__no_update__"
    # the leads card's number and its change against the compared period (a text without an id of its
    # own): the card's children are set anew; no other card is touched
    assert [id_ for id_, _ in result["sets"]] == ["drill-card-leads"]
    assert '"data-value": "15"' in json.dumps(result["sets"][0][1]["children"])
    figure = {"type": "Graph", "namespace": "dash_core_components",
              "props": {"id": "drill-funnel-graph", "figure": {"data": [{"y": [1, 2]}]}}}
    moved = json.loads(json.dumps(figure))
    moved["props"]["figure"]["data"][0]["y"] = [1, 3]
    assert refresh([figure], [moved])["sets"] == [["drill-funnel-graph",
                                                   {"figure": moved["props"]["figure"]}]]


def test_the_same_tree_sets_nothing_and_user_state_is_kept():
    before = cards(12)
    before[0]["props"]["sort_by"] = [{"column_id": "leads", "direction": "desc"}]  # set by the page
    assert refresh(before, cards(12)) == {"out": "__no_update__", "sets": []}


def test_a_change_of_shape_replaces_the_view():
    before, after = cards(12), [*cards(12), {"type": "Div", "namespace": "dash_html_components",
                                             "props": {"children": "new"}}]
    result = refresh(before, after)
    assert result["sets"] == [] and result["out"] == json.loads(json.dumps(after))
