"""The Dash application factory: shell, router and the screens' callbacks.

The shell is a `dcc.Location`, a language `dcc.Store` and a page container inside the design canvas
(`.ecc-canvas`, 1920×1080 design pixels scaled to the screen by assets/fit.js); the router renders the page
registered for the path in the language of the query string (`?lang=en`), keeping the query string
(`fit`, `kiosk`, …) in its links. Pages register their own callbacks; adding a screen means adding one
entry to `_pages()`. Kiosk rotation (assets/kiosk.js) changes the path without reloading the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dash import Dash, Input, Output, dcc, html

import assets
from ecc.config import Settings
from layouts import alerts_page, drill, ids, screens, wall
from layouts.chrome import SCREEN_PATHS
from layouts.i18n import DEFAULT_LANG, lang_from_search, t

logger = logging.getLogger(__name__)

ASSETS_DIR = Path(assets.__file__).resolve().parent
APP_TITLE = "ECC 业务指挥中心"

SnapshotProvider = Callable[[], Mapping | None]

_INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body class="ecc-body">
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


@dataclass(frozen=True)
class Page:
    """A screen: how to draw it (language, pathname, query string, app base path) and how to wire its
    callbacks (`register` may be shared by several pages: it runs once)."""

    render: Callable[[str, str, str, str], object]
    register: Callable[[Dash, SnapshotProvider], None]


def _pages(settings: Settings, snapshot_provider: SnapshotProvider | None = None) -> dict[str, Page]:
    """Routes relative to the app's prefix, without slashes ("" is the root). With a provider the wall
    is drawn with its KPI numbers (wall.layout)."""
    def sub(name: str) -> Page:
        return Page(
            render=lambda lang, pathname, search, base: screens.layout(
                name, lang=lang, refresh_ms=settings.refresh_ms, pathname=pathname, search=search, base=base),
            register=screens.register_callbacks,
        )
    pages = {
        "": Page(
            render=lambda lang, pathname, search, base: wall.layout(
                lang=lang, refresh_ms=settings.refresh_ms, pathname=pathname, search=search, base=base,
                snapshot=_quietly(snapshot_provider)),
            register=wall.register_callbacks,
        ),
    }
    pages.update({SCREEN_PATHS[name]: sub(name) for name in screens.SCREEN_LAYOUTS})
    # The drill-down (layouts/drill.py): one page per view, one set of callbacks.
    pages.update({path: Page(render=render, register=drill.register_callbacks)
                  for path, render in drill.routes().items()})
    pages[alerts_page.PATH] = Page(render=alerts_page.layout, register=alerts_page.register_callbacks)
    return pages


def _quietly(provider: SnapshotProvider | None) -> Mapping | None:
    """The live snapshot for a page's first drawing, or None: a page must be drawn even when the live
    store cannot be read (its refresh then says so)."""
    if provider is None:
        return None
    try:
        return provider()
    except Exception:  # the provider is pluggable (Redis, tests); the refresh logs and shows the failure
        logger.debug("no snapshot for the page's first drawing", exc_info=True)
        return None


def _not_found(lang: str, pathname: str) -> html.Div:
    return html.Div(className="not-found", children=[
        html.H1("404"),
        html.P(f"{t('page.not_found', lang)}: {pathname}"),
        dcc.Link(t("wall.title", lang), href="/" + (f"?lang={lang}" if lang != DEFAULT_LANG else "")),
    ])


def _shell() -> html.Div:
    return html.Div(className="ecc-stage", children=html.Div(className="ecc-canvas", children=[
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.LANG_STORE, data=DEFAULT_LANG),
        dcc.Store(id=ids.FIT),
        html.Div(id=ids.PAGE, className="ecc-page"),
    ]))


# Re-fit the canvas when the query string changes (?fit=…): assets/fit.js.
# What the query string says to the page itself: the fit mode, and the document's language (screen
# readers, the browser's translate offer and CJK line breaking follow <html lang>).
_FIT_JS = ("function(search) { if (window.eccFit) { window.eccFit(search); }"
           " document.documentElement.lang ="
           " new URLSearchParams(search || '').get('lang') === 'en' ? 'en' : 'zh-CN';"
           " return search || ''; }")


def create_app(settings: Settings, snapshot_provider: SnapshotProvider,
               extra_setup: Callable[[Dash], None] | None = None) -> Dash:
    """The web app. `snapshot_provider()` returns the live snapshot dict (Redis in production); the
    pages only read it. `extra_setup(app)` runs last, e.g. to register the API blueprint on `app.server`.
    """
    app = Dash(
        __name__,
        assets_folder=str(ASSETS_DIR),
        title=APP_TITLE,
        update_title=None,  # no "Updating..." flicker in the tab title on every tick
        serve_locally=True,
        compress=True,  # flask-compress: a wall refresh is ~38 KiB of JSON, ~5 KiB compressed
        index_string=_INDEX,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    pages = _pages(settings, snapshot_provider)
    app.layout = _shell()
    # The wall's ids and one sub-screen's header ids (the sub-screens share them; their widgets are
    # pattern-matched and need no validation). Drawn without the live store (not read at start-up).
    app.validation_layout = html.Div([_shell(), _pages(settings)[""].render(DEFAULT_LANG, "/", "", "/"),
                                      pages[SCREEN_PATHS["alerts"]].render(DEFAULT_LANG, "/", "", "/"),
                                      pages[alerts_page.PATH].render(DEFAULT_LANG, "/alerts", "", "/")])

    @app.callback(
        Output(ids.PAGE, "children"),
        Output(ids.LANG_STORE, "data"),
        Input(ids.URL, "pathname"),
        Input(ids.URL, "search"),
    )
    def route(pathname: str | None, search: str | None) -> tuple[object, str]:
        lang = lang_from_search(search)
        page = pages.get(app.strip_relative_path(pathname or "/") or "")
        if page is None:
            return _not_found(lang, pathname or ""), lang
        return page.render(lang, pathname or "/", search or "", app.get_relative_path("/")), lang

    app.clientside_callback(_FIT_JS, Output(ids.FIT, "data"), Input(ids.URL, "search"))
    for register in dict.fromkeys(page.register for page in pages.values()):
        register(app, snapshot_provider)
    if extra_setup is not None:
        extra_setup(app)
    logger.debug("dash app created with %d page(s), assets from %s", len(pages), ASSETS_DIR)
    return app

