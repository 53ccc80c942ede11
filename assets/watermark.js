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
