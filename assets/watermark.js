/* The wall's stale watermark (issue 6, finding 7): judged by the browser itself, every second.
 *
 * The server's refresh callback writes its time into the `wall-tick` (or `screen-tick`) store on every answer. When no
 * answer has arrived for `cfg.stale_s` seconds (the server is down, frozen or unreachable), the badge
 * "数据已过期 N 秒 · 重连中" / "Stale N s · reconnecting" turns red over the server's own badge, whose last
 * words could otherwise say "0.4 s" forever. Dash keeps polling, so the wall heals by itself when the
 * server answers again; no error page is shown meanwhile.
 */
window.eccWatermark = function (ctx, tick, cfg) {
    var now = Date.now();
    var triggered = (ctx && ctx.triggered) || [];
    var state = window.eccWatermarkState || (window.eccWatermarkState = {lastOk: now});
    for (var i = 0; i < triggered.length; i++) {
        if (/-tick\.data$/.test(triggered[i].prop_id) && tick) {  // wall-tick or screen-tick
            state.lastOk = now;
        }
    }
    var staleAfter = (cfg && cfg.stale_s) || 5;
    var age = (now - state.lastOk) / 1000;
    var root = document.querySelector(".ecc-screen");
    if (age < staleAfter) {
        if (root) { root.classList.remove("wall-stale"); }
        return ["", "fresh fresh-bad stale stale-hidden"];
    }
    if (root) { root.classList.add("wall-stale"); }
    var text = ((cfg && cfg.text) || "stale {age} s").replace("{age}", Math.round(age).toString());
    return [text, "fresh fresh-bad stale"];
};

/* Every panel's freshness watermark (layouts/watermarks.py), written by the browser every second.
 *
 * `times` is the server's last word: its clock ("at") and, per source, the time of the newest data that
 * source's numbers include. The age of a source is the server's age of it plus the time since that word
 * arrived, so it keeps growing when the server, or one source behind it, stops: the panel turns amber,
 * then red and dimmed (CSS: .panel:has(.wm-stale)). The browser's own clock is used only for differences,
 * so a wall PC whose clock is wrong still shows the right ages.
 */
window.eccPanelWatermarks = function (times, ids, cfg) {
    var now = Date.now();
    var state = window.eccSourceTimes || (window.eccSourceTimes = {at: null, receivedAt: now, times: null});
    if (times && times.at !== state.at) {
        state.at = times.at;
        state.receivedAt = now;
        state.times = times;
    }
    cfg = cfg || {};
    var units = cfg.units || ["s", "min", "h"];
    function age(seconds) {
        if (seconds < 120) { return Math.max(0, Math.round(seconds)) + " " + units[0]; }
        if (seconds < 7200) { return Math.round(seconds / 60) + " " + units[1]; }
        return Math.round(seconds / 3600) + " " + units[2];
    }
    function clock(ms) {
        return new Date(ms).toLocaleTimeString("en-GB", {timeZone: "Asia/Shanghai", hour12: false});
    }
    var texts = [], classes = [], titles = [];
    (ids || []).forEach(function (id) {
        var source = id.source;
        var title = (cfg.titles || {})[source] || source;
        var newest = state.times ? state.times[source] : null;
        if (newest === null || newest === undefined) {
            texts.push(cfg.unknown || "—");
            classes.push("panel-watermark wm-unknown");
            titles.push(title);
            return;
        }
        var seconds = (state.at - newest + (now - state.receivedAt)) / 1000;
        var limits = (cfg.limits || {})[source] || [5, 60];
        var level = seconds < limits[0] ? "ok" : (seconds < limits[1] ? "warn" : "stale");
        var when = clock(newest);
        texts.push(level === "stale" ? (cfg.stale || "stale {age}").replace("{age}", age(seconds))
                                     : (cfg.asof || "{time}").replace("{time}", when));
        classes.push("panel-watermark wm-" + level);
        titles.push(title + "\n" + (cfg.at || "{time} ({age})").replace("{time}", when).replace("{age}", age(seconds)));
    });
    return [texts, classes, titles];
};
