/* Fit the 1920×1080 design canvas to any screen (issue 8): CSS transform scale, never CSS zoom.
 *
 * Plotly handles `transform: scale` on an ancestor (hover, clicks) but misplaces hover under `zoom`
 * (plotly.js #6169). Every screen is laid out in design pixels inside `.ecc-canvas`, then scaled.
 * `?fit=` picks how (docs/wall.md):
 *   auto    (default) uniform scale = min(w/1920, h/1080); the canvas grows along the longer side so the
 *           screen is filled without bars or distortion (a 32:9 wall gets a 3840×1080 canvas and the
 *           wide grid);
 *   contain the 1920×1080 design as it is, uniformly scaled, centred (black bars);
 *   width   uniform scale = w/1920, canvas at least 1080 tall (scrolls vertically when the screen is wider);
 *   height  uniform scale = h/1080, canvas at least 1920 wide (scrolls horizontally when narrower);
 *   stretch 1920×1080 scaled to the screen in x and y separately (distorted text, no bars).
 */
(function () {
    "use strict";
    var BASE_W = 1920, BASE_H = 1080, WIDE_RATIO = 2.2;
    var MODES = ["auto", "contain", "width", "height", "stretch"];

    function fitMode(search) {
        var value = new URLSearchParams(search || window.location.search).get("fit");
        return MODES.indexOf(value) >= 0 ? value : "auto";
    }

    function geometry(mode, vw, vh) {
        var s = Math.min(vw / BASE_W, vh / BASE_H);
        var g = {sx: s, sy: s, w: BASE_W, h: BASE_H, left: 0, top: 0};
        if (mode === "auto") {
            g.w = vw / s; g.h = vh / s;
        } else if (mode === "contain") {
            g.left = (vw - BASE_W * s) / 2; g.top = (vh - BASE_H * s) / 2;
        } else if (mode === "width") {
            g.sx = g.sy = vw / BASE_W; g.h = Math.max(BASE_H, vh / g.sy);
        } else if (mode === "height") {
            g.sx = g.sy = vh / BASE_H; g.w = Math.max(BASE_W, vw / g.sx);
        } else {
            g.sx = vw / BASE_W; g.sy = vh / BASE_H;
        }
        return g;
    }

    function fit(search) {
        var canvas = document.querySelector(".ecc-canvas");
        if (!canvas) { return; }
        var mode = fitMode(search);
        var vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
        var g = geometry(mode, vw, vh);
        // Whole design pixels: fractional canvas sizes make Plotly's responsive resize oscillate.
        var w = Math.floor(g.w), h = Math.floor(g.h);
        canvas.style.width = w + "px";
        canvas.style.height = h + "px";
        canvas.style.left = g.left + "px";
        canvas.style.top = g.top + "px";
        canvas.style.transform = "scale(" + g.sx + "," + g.sy + ")";
        var root = document.documentElement;
        root.classList.toggle("ecc-wide", w / h >= WIDE_RATIO);
        root.classList.toggle("ecc-scroll", mode === "width" || mode === "height");
        root.dataset.fit = mode;
        root.dataset.scale = String(Math.min(g.sx, g.sy));
        root.classList.add("ecc-fitted");
    }

    window.eccFit = fit;
    window.addEventListener("resize", function () { fit(); });
    // The canvas is drawn by Dash after this script runs: fit as soon as it appears.
    var observer = new MutationObserver(function () {
        if (document.querySelector(".ecc-canvas")) { fit(); observer.disconnect(); }
    });
    observer.observe(document.documentElement, {childList: true, subtree: true});
})();
