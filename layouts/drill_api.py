"""The drill-down pages read /api/v1 in process: every number on them is an API answer.

A drill-down callback runs inside the browser's request to the Dash app. It asks the API by handing a GET
request straight to the same Flask application (a WSGI call in the same process, no socket), with the
caller's credentials (cookie, bearer token) and address. So the page shows exactly what `GET /api/v1/…`
answers for the same filter — the same functions, the same shared answer cache (ecc/web/answer_cache.py),
the same checks — and the access rules of ecc/auth apply to it as to the user's own requests: a viewer
sees the call-back list refused (it needs operator), and each read of it is audited as an export.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Flask, current_app, has_request_context, request
from werkzeug.test import Client

log = logging.getLogger(__name__)

API = "/api/v1"
# The caller's headers worth passing on: who they are, and their language for error texts.
_FORWARD = ("Cookie", "Authorization", "Accept-Language", "User-Agent")


@dataclass(frozen=True)
class Answer:
    status: int
    body: object  # the decoded JSON (or None when the answer was not JSON)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def error(self) -> str:
        if isinstance(self.body, dict) and self.body.get("error"):
            return str(self.body["error"])
        return f"HTTP {self.status}"


def get(path: str, params: Sequence[tuple[str, str]] = (), app: Flask | None = None) -> Answer:
    """GET `/api/v1/<path>?<params>` from the running app, as the current caller."""
    target = app or current_app._get_current_object()
    headers = {}
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    if has_request_context():
        headers = {name: request.headers[name] for name in _FORWARD if name in request.headers}
        environ["REMOTE_ADDR"] = request.remote_addr or "127.0.0.1"
        headers["Host"] = request.host
    query = urlencode(list(params))
    url = f"{API}/{path}" + (f"?{query}" if query else "")
    # use_cookies=False: a client with a cookie jar replaces the Cookie header with its own (empty) jar's,
    # which dropped the caller's session cookie (found by tests/test_drill_auth.py with auth on)
    # A fresh application context: Flask reuses an active context of the same app for a nested request,
    # so without it the inner request's `g` (ecc.auth's rule and identity) would be the outer one's, and
    # the outer request's audit hook would log the inner call's rule (an "export" for a viewer refused it).
    with target.app_context():
        response = Client(target, use_cookies=False).get(url, headers=headers, environ_base=environ)
    try:
        body = json.loads(response.get_data(as_text=True)) if response.is_json else None
    except ValueError:
        body = None
    if response.status_code != 200:
        log.info("drill-down: GET %s answered %s", url, response.status_code)
    return Answer(response.status_code, body)
