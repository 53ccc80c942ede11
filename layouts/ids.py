"""Component ids of the application shell, shared by the router and the pages."""

from __future__ import annotations

URL = "url"  # dcc.Location: pathname picks the page, ?lang=en the language
LANG_STORE = "lang-store"  # dcc.Store: "zh" or "en", written by the router from the query string
PAGE = "page-content"  # where the router renders the current page
FIT = "fit-store"  # dcc.Store: the last query string the canvas was fitted for (assets/fit.js)
