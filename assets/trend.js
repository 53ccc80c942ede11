/* The wall's per-minute trend, updated in place from the server's delta (layouts/trend.py).
 *
 * The delta says how many points per line it extends (`from`), the new complete minutes per line (`x`,
 * `y`) and the tail of the minute in progress. Applied only to the lines it was computed for: when the
 * chart shows something else (a delta answered for a page the user has since left and come back to),
 * nothing is drawn and the trend's state is cleared, so the next refresh sends the whole figure.
 * The new figure shares the unchanged parts with the old one; dcc.Graph hands it to Plotly.react, which
 * redraws only what changed (the same as a Dash Patch would end in, without its failure mode).
 */
window.eccTrendApply = function (delta, figure) {
    var keep = window.dash_clientside.no_update;
    if (!delta || !delta.from) { return [keep, keep]; }
    var lines = delta.from.length;
    var data = figure && figure.data;
    if (!data || data.length < lines + 1) { return [keep, null]; }
    for (var i = 0; i < lines; i++) {
        if (!data[i] || !Array.isArray(data[i].x) || data[i].x.length !== delta.from[i]) { return [keep, null]; }
    }
    var next = data.slice();
    for (i = 0; i < lines; i++) {
        if (delta.x[i].length) {
            next[i] = Object.assign({}, data[i], {x: data[i].x.concat(delta.x[i]), y: data[i].y.concat(delta.y[i])});
        }
    }
    next[lines] = Object.assign({}, data[lines], {x: delta.tail[0], y: delta.tail[1]});
    return [Object.assign({}, figure, {data: next}), keep];
};
