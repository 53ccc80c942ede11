/* Drill-down (issue 8): click-through from the wall and sub-screens, links and CSV export on /drill.
 *
 * Every KPI card, funnel step, channel row and chart element of the wall lands on /drill filtered to it
 * (docs/drill.md has the table). The targets come from <meta name="ecc-drill"> (layouts/drill.py:
 * click_config), so channel labels map back to codes exactly as the server names them. Navigation is a
 * history.pushState plus the event dcc.Location listens to (as assets/kiosk.js does): the router renders
 * the page in place, and Back returns to the screen or filter before. Ctrl/⌘/middle-click opens a new tab.
 * In kiosk mode (?kiosk=1) the wall does not navigate: a touch on an unattended wall must not leave it.
 */
(function () {
    "use strict";
    var config = null;

    function cfg() {
        if (config) { return config; }
        var meta = document.querySelector('meta[name="ecc-drill"]');
        try { config = JSON.parse(meta ? meta.getAttribute("content") : "{}"); } catch (e) { config = {}; }
        return config;
    }

    function base() {
        try {
            var dash = JSON.parse(document.getElementById("_dash-config").textContent);
            return dash.requests_pathname_prefix || "/";
        } catch (e) {
            return "/";
        }
    }

    function kiosk() {
        return document.documentElement.classList.contains("ecc-kiosk") ||
            new URLSearchParams(window.location.search).get("kiosk") === "1";
    }

    function onDrillPage() { return !!document.querySelector(".drill-page"); }

    function drillUrl(view, params) {
        var path = (cfg().paths || {})[view];
        var url = base() + "drill" + (path ? "/" + path : "");
        var query = new URLSearchParams();
        var lang = new URLSearchParams(window.location.search).get("lang");
        Object.keys(params || {}).forEach(function (k) {
            if (params[k] !== undefined && params[k] !== null && params[k] !== "") { query.set(k, params[k]); }
        });
        if (lang === "en") { query.set("lang", "en"); }
        var text = query.toString();
        return url + (text ? "?" + text : "");
    }

    function go(url, newTab) {
        if (newTab) { window.open(url, "_blank", "noopener"); return; }
        if (url === window.location.pathname + window.location.search) { return; }
        window.history.pushState({}, "", url);
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        window.scrollTo(0, 0);
    }

    function newTab(event) { return !!(event && (event.ctrlKey || event.metaKey || event.shiftKey || event.button === 1)); }

    function channelCode(label) {
        var text = (label || "").trim();
        var map = cfg().channels || {};
        return map[text] || (/^[a-z0-9_]{1,32}$/.test(text) ? text : null);
    }

    // ---- the wall and sub-screens: HTML elements ------------------------------------------------
    function wallTarget(el) {
        var card = el.closest(".kpi-card");
        if (card) {
            var m = /(?:^|\s)kpi-card-([a-z_]+)/.exec(card.className);
            var target = m && (cfg().kpi || {})[m[1]];
            return target ? drillUrl(target[0], target[1]) : null;
        }
        var step = el.closest(".funnel-step");
        if (step) {
            var no = step.querySelector(".step-no");
            var k = parseInt(no ? no.textContent : "", 10);
            if (!k) { k = Array.prototype.indexOf.call(step.parentNode.children, step) + 1; }
            return drillUrl("funnel", {step: String(k)});
        }
        if (el.closest(".turnover-line, .widget-turnover, .widget-money")) { return drillUrl("money", {}); }
        var row = el.closest("table.leaderboard tbody tr");
        if (row) {
            var cell = row.querySelector("td.name") || row.querySelector("td");
            var rank = cell ? cell.querySelector(".rank") : null;
            var label = cell ? cell.textContent.slice(rank ? rank.textContent.length : 0) : "";
            var code = channelCode(label);
            return code ? drillUrl("overview", {channel: code}) : null;
        }
        return null;
    }

    // ---- charts: Plotly's own click event, bound to every graph once --------------------------
    function figureName(gd) {
        var rev = gd.layout && gd.layout.uirevision;
        return typeof rev === "string" ? rev : "";
    }

    function wallChartTarget(gd, point) {
        var name = figureName(gd);
        var views = cfg().figures || {};
        if (name === "funnel") { return drillUrl("funnel", {step: String(parseInt(point.x, 10))}); }
        if (name === "channels") {
            var code = channelCode(String(point.y));
            return code ? drillUrl("overview", {channel: code}) : null;
        }
        if (name === "rejects") {
            var k = parseInt(String(point.y), 10);
            return k ? drillUrl("overview", {step: String(k)}) : null;
        }
        if (name === "trend") { return drillUrl("series", {metric: "leads", interval: "5m"}); }
        if (name === "provinces") {  // customdata: [the province as the events name it, the amount]
            var province = Array.isArray(point.customdata) ? point.customdata[0] : null;
            return drillUrl("money", province ? {province: province} : {});
        }
        return views[name] ? drillUrl(views[name], {}) : null;
    }

    function withParam(changes) {
        var p = new URLSearchParams(window.location.search);
        Object.keys(changes).forEach(function (k) {
            p.delete(k);
            if (changes[k] !== null) { p.append(k, changes[k]); }
        });
        var text = p.toString();
        return window.location.pathname + (text ? "?" + text : "");
    }

    function drillChartTarget(gd, point) {
        var id = gd.id || (gd.parentNode && gd.parentNode.id) || "";
        var holder = gd.closest("[id]");
        id = holder ? holder.id : id;
        if (id === "drill-funnel-graph" || id === "drill-cohort-graph") {
            return withParam({step: String(point.customdata || parseInt(point.x, 10))});
        }
        if (id === "drill-channel-step-graph") {
            var p = new URLSearchParams(window.location.search);
            p.delete("channel"); p.delete("step");
            p.append("channel", point.customdata); p.append("step", String(parseInt(point.x, 10)));
            return base() + "drill/funnel?" + p.toString();
        }
        if (id === "drill-by-channel-graph" && point.customdata && point.customdata !== "unknown") {
            return withParam({channel: point.customdata});
        }
        if (id === "drill-by-province-graph" && point.customdata && point.customdata !== "unknown") {
            return withParam({province: point.customdata});
        }
        return null;
    }

    function bind(gd) {
        if (gd.__eccDrill || typeof gd.on !== "function") { return; }
        gd.__eccDrill = true;
        gd.on("plotly_click", function (data) {
            var point = data && data.points && data.points[0];
            if (!point) { return; }
            var event = data.event;
            var url = null;
            if (gd.closest(".drill-page")) { url = drillChartTarget(gd, point); }
            else if (!kiosk()) { url = wallChartTarget(gd, point); }
            if (url) { go(url, newTab(event)); }
        });
        gd.classList.add("ecc-clickable");
    }

    function bindAll() {
        var graphs = document.querySelectorAll(".js-plotly-plot");
        for (var i = 0; i < graphs.length; i++) { bind(graphs[i]); }
    }

    // ---- drill pages: in-app links and the CSV export -----------------------------------------
    function sameAppLink(a) {
        if (!a || a.target === "_blank" || a.hasAttribute("download")) { return null; }
        var url;
        try { url = new URL(a.getAttribute("href"), window.location.href); } catch (e) { return null; }
        if (url.origin !== window.location.origin || url.pathname.indexOf(base()) !== 0) { return null; }
        if (url.pathname.indexOf(base() + "api/") === 0) { return null; }
        return url.pathname + url.search;
    }

    function downloadCsv(button) {
        var url = button.getAttribute("data-csv-url");
        var name = button.getAttribute("data-filename") || "export.csv";
        button.disabled = true;
        fetch(url, {headers: {Accept: "text/csv"}, credentials: "same-origin"}).then(function (resp) {
            if (!resp.ok) { throw new Error("HTTP " + resp.status); }
            return resp.blob();
        }).then(function (blob) {
            var link = document.createElement("a");
            link.href = URL.createObjectURL(blob);
            link.download = name;
            document.body.appendChild(link);
            link.click();
            setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
            button.removeAttribute("data-error");
        }).catch(function (err) {
            button.setAttribute("data-error", String(err.message || err));
        }).then(function () { button.disabled = false; });
    }

    document.addEventListener("click", function (event) {
        var el = event.target;
        if (!(el instanceof Element)) { return; }
        // The channel table's name cell: plain text (so the table's CSV holds names, not links), opening
        // the overview on the row's channel with the page's other filters. Before the defaultPrevented
        // check: the table's own cell handler has prevented the default by then.
        var cell = el.closest("#drill-channel-table td[data-dash-column=channel]");
        var code = cell && cell.parentElement.querySelector("td[data-dash-column=code]");
        if (code) {
            var p = new URLSearchParams(window.location.search);
            p.delete("channel");
            p.append("channel", code.textContent.trim());
            go(base() + "drill?" + p.toString(), newTab(event));
            return;
        }
        if (event.defaultPrevented) { return; }  // dcc.Link navigated already
        var csv = el.closest("[data-csv-url]");
        if (csv) { event.preventDefault(); downloadCsv(csv); return; }
        if (onDrillPage()) {
            var a = el.closest("a[href]");
            var url = a ? sameAppLink(a) : null;
            if (url) {
                event.preventDefault();
                go(url, newTab(event));
            }
            return;
        }
        if (kiosk() || el.closest("a, button, input, select, .ecc-control")) { return; }
        var target = wallTarget(el);
        if (target) { event.preventDefault(); go(target, newTab(event)); }
    });

    new MutationObserver(bindAll).observe(document.documentElement, {childList: true, subtree: true});
    window.eccDrill = {url: drillUrl, go: go};
})();

/* The timer's refresh of a drill-down page whose period reaches now (layouts/drill.py): the server sends the
 * view's new component tree; this compares it with the one on the page and sets only the props that changed
 * on the components that have an id (a chart's figure, a table's data, a number and its data-value), so
 * nothing is mounted again: no blank chart, no jump of the scroll position, a table keeps its sort. Where a
 * change has no id to land on (a text without one, a row more), the nearest ancestor with an id gets its
 * new children; at worst the whole view is replaced, as a requested load does. Props the page set itself
 * (a table's sort_by, a chart's relayoutData) are not in the server's tree and are left alone.
 */
(function () {
    "use strict";

    function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

    function isComponent(x) {
        return x !== null && typeof x === "object" && !Array.isArray(x) && "props" in x && "type" in x;
    }

    // [[id, {prop: value}], ...] that turn `current` into `next`, or null when only a parent can do it
    function diffChildren(current, next) {
        if (Array.isArray(current) && Array.isArray(next)) {
            if (current.length !== next.length) { return null; }
            var out = [];
            for (var i = 0; i < next.length; i++) {
                var d = diffNode(current[i], next[i]);
                if (d === null) { return null; }
                out = out.concat(d);
            }
            return out;
        }
        if (isComponent(current) && isComponent(next)) { return diffNode(current, next); }
        if (isComponent(current) || isComponent(next) || Array.isArray(current) || Array.isArray(next)) {
            return null;
        }
        return same(current, next) ? [] : null;
    }

    function diffNode(current, next) {
        if (!isComponent(current) || !isComponent(next)) { return same(current, next) ? [] : null; }
        if (current.type !== next.type || current.namespace !== next.namespace) { return null; }
        var was = current.props || {}, now = next.props || {};
        if (!same(was.id, now.id)) { return null; }
        var changed = {}, count = 0;
        Object.keys(now).forEach(function (key) {
            if (key !== "children" && !same(was[key], now[key])) { changed[key] = now[key]; count++; }
        });
        var inner = diffChildren(was.children, now.children);
        if (now.id === undefined || now.id === null) {
            return count || inner === null ? null : inner;
        }
        if (inner === null) { changed.children = now.children; count++; inner = []; }
        return count ? inner.concat([[now.id, changed]]) : inner;
    }

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.drill = Object.assign(window.dash_clientside.drill || {}, {
        diff: diffChildren,
        refresh: function (fresh, current) {
            var nc = window.dash_clientside;
            if (!fresh || !fresh.body) { return nc.no_update; }
            var updates = diffChildren(current, fresh.body);
            if (updates === null) { return fresh.body; }
            updates.forEach(function (u) { nc.set_props(u[0], u[1]); });
            return nc.no_update;
        }
    });
}());
