"""A tiny WSGI app for the web server tests: /ping answers at once, /echo returns the body's length."""

from __future__ import annotations


def app(environ, start_response):
    if environ["PATH_INFO"] == "/echo":
        size = 0
        stream = environ["wsgi.input"]
        while chunk := stream.read(65536):
            size += len(chunk)
        body = str(size).encode()
    else:
        body = b"pong"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
