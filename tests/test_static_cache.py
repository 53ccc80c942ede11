"""Static assets: a fingerprinted /assets/ URL is cached for a year and compressed; Dash's own bundles keep
their year; a bare URL keeps revalidation. On the real Dash app (Flask test client)."""

from __future__ import annotations

import gzip
import re

from ecc.config import Settings
from ecc.web import static_cache
from layouts.app import create_app


def _app():
    app = create_app(Settings(refresh_ms=1000), lambda: {})
    static_cache.install(app.server)
    return app.server.test_client()


def _links(client) -> list[str]:
    page = client.get("/", headers={"Accept-Encoding": "identity"}).get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/[^"]+)"', page)


def test_fingerprinted_assets_are_cached_for_a_year_and_compressed():
    client = _app()
    css = next(u for u in _links(client) if u.startswith("/assets/wall.css?m="))
    resp = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    control = resp.headers["Cache-Control"]
    assert "max-age=31536000" in control and "immutable" in control and "no-cache" not in control
    body = gzip.decompress(resp.get_data())
    assert b"{" in body and len(resp.get_data()) < len(body) / 2  # CSS compresses well


def test_bare_asset_url_and_dash_bundles_keep_their_own_policy():
    client = _app()
    bare = client.get("/assets/wall.css")
    assert bare.status_code == 200 and "no-cache" in bare.headers["Cache-Control"]
    bundle = next(u for u in _links(client) if "/_dash-component-suites/" in u and "dash_renderer" in u)
    resp = client.get(bundle, headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and "max-age=31536000" in resp.headers["Cache-Control"]


def test_revalidation_of_a_fingerprinted_asset_keeps_the_year():
    client = _app()
    css = next(u for u in _links(client) if u.startswith("/assets/wall.css?m="))
    etag = client.get(css).headers["ETag"]
    again = client.get(css, headers={"If-None-Match": etag})
    assert again.status_code == 304 and "max-age=31536000" in again.headers["Cache-Control"]
