"""Static assets: cached for a year when their URL is fingerprinted, and compressed.

Dash serves its own component bundles with the version in the path (`….v4_4_1m….js`) and a year's
max-age. The app's `/assets/` files (wall.css, kiosk.js, …) come from a Flask static folder instead, which
answers `Cache-Control: no-cache` (a revalidation round trip per file per page load) and streams the file
(`direct_passthrough`), which flask-compress leaves uncompressed. Dash links them as
`/assets/x.css?m=<mtime>`: the URL changes whenever the file does, so an answer to a fingerprinted URL may
be kept for a year. A request without `m` (typed by hand) keeps Flask's revalidation.
"""

from __future__ import annotations

from flask import Flask, Request, Response, request

YEAR_S = 365 * 24 * 3600
COMPRESSIBLE = ("text/css", "application/javascript", "text/javascript", "application/json", "image/svg+xml")


def is_fingerprinted_asset(req: Request, assets_prefix: str = "/assets/") -> bool:
    return req.path.startswith(assets_prefix) and bool(req.args.get("m"))


def cache_assets(response: Response) -> Response:
    if is_fingerprinted_asset(request) and response.status_code in (200, 304):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = YEAR_S
        response.cache_control.immutable = True
        if response.status_code == 200 and response.mimetype in COMPRESSIBLE:
            # Read the file into the response so that flask-compress (an after_request hook registered
            # before this one, hence run after it) compresses it: it leaves a streamed file alone. The
            # assets are a few kB each, and the browser asks for each once a year.
            response.direct_passthrough = False
            response.set_data(response.get_data())
    return response


def install(server: Flask) -> None:
    """Register after the app's compression (Dash(compress=True)): Flask runs after_request hooks in
    reverse order of registration, so this one sees the response first."""
    server.after_request(cache_assets)
