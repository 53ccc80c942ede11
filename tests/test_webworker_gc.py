"""The web worker freezes the loaded app out of the garbage collector's reach (issue 8, the wall's p99
under 50 screens: a full collection over the loaded app stopped every thread for ~80 ms). Real gunicorn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from ecc.embedded import free_port, wait_for_port

# A WSGI app that holds many objects from its start (as a loaded Dash app does) and says how many
# objects its worker froze, and how many the collector still tracks.
APP = '''
import gc

LOADED = [[i] for i in range(50_000)]  # lists: always tracked by the collector


def app(environ, start_response):
    body = f"{gc.get_freeze_count()} {len(gc.get_objects())}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def test_the_loaded_app_is_frozen_out_of_the_collector(tmp_path: Path):
    (tmp_path / "held_app.py").write_text(APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "ecc.web.webworker.BufferingWorker", "--threads", "2", "--timeout", "60",
         "--control-socket", str(tmp_path / "ctl.sock"), "--chdir", str(tmp_path), "held_app:app"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "gunicorn.log").open("wb"))
    try:
        wait_for_port(port, 20, proc, "gunicorn")
        frozen, tracked = map(int, requests.get(f"http://127.0.0.1:{port}/", timeout=10).text.split())
        assert frozen > 50_000  # the app's objects (and gunicorn's) are frozen
        assert tracked < 50_000  # a full collection no longer walks them
    finally:
        proc.terminate()
        proc.wait(10)
