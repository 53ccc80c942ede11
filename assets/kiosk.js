/* Kiosk mode and screen rotation (issue 8), all in the browser: no page reload between screens.
 *
 * URL: /?kiosk=1&rotate=30&fit=width&screens=wall,funnel,assets&lang=en
 *   kiosk=1   hides every control and the cursor, and rotates through `screens` every `rotate` seconds
 *             (at least 3; default 30; default list: every screen).
 * The parameters stay in the URL on every rotation (a reload keeps kiosk mode) and in sessionStorage
 * (a reload of the bare address in the same tab comes back in kiosk mode, until `k` turns it off).
 * Keyboard, for setting a wall up without a mouse:
 *   → / PageDown next screen, ← / PageUp previous, 1–6 a screen by number, k kiosk on/off,
 *   f next fit mode, l Chinese/English.
 * A screen change is a history.pushState plus the event dcc.Location listens to: Dash's router renders
 * the next screen in place.
 */
(function () {
    "use strict";
    var SCREENS = ["wall", "acquisition", "funnel", "assets", "service", "alerts"];
    var FITS = ["auto", "contain", "width", "height", "stretch"];
    var STORE_KEY = "ecc.kiosk";
    var timer = null;

    function base() {
        try {
            var cfg = JSON.parse(document.getElementById("_dash-config").textContent);
            return cfg.requests_pathname_prefix || "/";
        } catch (e) {
            return "/";
        }
    }

    function pathOf(name) { return base() + (name === "wall" ? "" : "screen/" + name); }

    function current() {
        var rel = window.location.pathname.slice(base().length).replace(/\/+$/, "");
        if (rel === "") { return "wall"; }
        var match = /^screen\/([a-z]+)$/.exec(rel);
        return match && SCREENS.indexOf(match[1]) >= 0 ? match[1] : null;
    }

    function params() { return new URLSearchParams(window.location.search); }
    function isKiosk(p) { return (p || params()).get("kiosk") === "1"; }

    function rotation(p) {
        var names = (p.get("screens") || "").split(",").filter(function (n) { return SCREENS.indexOf(n) >= 0; });
        return names.length ? names : SCREENS.slice();
    }

    function go(name, p) {
        var query = p.toString();
        var url = pathOf(name) + (query ? "?" + query : "");
        if (url !== window.location.pathname + window.location.search) {
            window.history.pushState({}, "", url);
            window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        }
        if (window.eccFit) { window.eccFit(); }  // ?fit= may have changed
        apply();
    }

    function step(delta) {
        var p = params();
        var names = isKiosk(p) ? rotation(p) : SCREENS;
        var i = names.indexOf(current());
        var next = i < 0 ? names[0] : names[(i + delta + names.length) % names.length];
        go(next, p);
        restart();
    }

    function restart() {
        if (timer) { window.clearInterval(timer); timer = null; }
        var p = params();
        if (!isKiosk(p)) { return; }
        var seconds = Math.max(3, parseFloat(p.get("rotate") || "30") || 30);
        timer = window.setInterval(function () { step(1); }, seconds * 1000);
    }

    function apply() {
        var p = params();
        var on = isKiosk(p);
        document.documentElement.classList.toggle("ecc-kiosk", on);
        try {
            if (on) { window.sessionStorage.setItem(STORE_KEY, p.toString()); }
            else { window.sessionStorage.removeItem(STORE_KEY); }
        } catch (e) { /* storage may be disabled: the URL still carries kiosk mode */ }
    }

    function toggle(key, values) {
        var p = params();
        var i = values.indexOf(p.get(key) || values[0]);
        p.set(key, values[(i + 1) % values.length]);
        return p;
    }

    function onKey(event) {
        var target = event.target;
        if (event.ctrlKey || event.metaKey || event.altKey ||
            (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) { return; }
        var key = event.key;
        var here = current() || "wall";
        if (key === "ArrowRight" || key === "PageDown") { step(1); }
        else if (key === "ArrowLeft" || key === "PageUp") { step(-1); }
        else if (/^[1-6]$/.test(key)) { go(SCREENS[parseInt(key, 10) - 1], params()); restart(); }
        else if (key === "k" || key === "K") {
            var p = params();
            if (isKiosk(p)) { p.delete("kiosk"); } else { p.set("kiosk", "1"); }
            go(here, p); restart();
        }
        else if (key === "f" || key === "F") { go(here, toggle("fit", FITS)); }
        else if (key === "l" || key === "L") { go(here, toggle("lang", ["zh", "en"])); }
        else { return; }
        event.preventDefault();
    }

    // A reload of the bare address in a tab that was in kiosk mode: put its parameters back before Dash
    // reads the location.
    try {
        var saved = window.sessionStorage.getItem(STORE_KEY);
        if (saved && !window.location.search) {
            window.history.replaceState({}, "", window.location.pathname + "?" + saved);
        }
    } catch (e) { /* no storage: nothing to restore */ }

    window.addEventListener("keydown", onKey);
    window.addEventListener("popstate", function () { apply(); restart(); });
    window.eccKiosk = {step: step, current: current};
    apply();
    restart();
})();
