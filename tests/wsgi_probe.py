"""A tiny WSGI app for the web server tests: /ping answers at once, /echo returns the body's length,
/api/v1/slow takes two seconds (a heavy drill-down query), /_dash-hold three (a screen's request in
progress), /api/v1/now answers at once."""

from __future__ import annotations

import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/echo":
        size = 0
        stream = environ["wsgi.input"]
        while chunk := stream.read(65536):
            size += len(chunk)
        body = str(size).encode()
    elif environ["PATH_INFO"] == "/api/v1/slow":
        time.sleep(2)
        body = b"slow"
    elif environ["PATH_INFO"] == "/_dash-hold":
        time.sleep(3)
        body = b"held"
    else:
        body = b"pong"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
