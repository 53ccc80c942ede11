"""Receivers' secrets sealed at rest (ecc/alerts/receivers_secrets.py): the database file holds none in
clear, rows of the version before are sealed at start, a missing or wrong key is a clear refusal at
start and a clear failed delivery (never an exception into the evaluator), keys rotate.

Real SQLite files (the bytes on disk are read back), a real HTTP receiver that checks signatures, a real
Flask app over werkzeug for the API's refusal."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime

import pytest
import requests
from flask import Flask
from notify_receivers import SECRET, Robots, alert, log_of, settings_for
from notify_receivers import engine as engine  # the fixture (SQLite, and PostgreSQL where configured)
from sqlalchemy import text

from ecc import metadata
from ecc.alerts import notify, receivers, receivers_secrets
from ecc.alerts.receivers_api import create_notify_api
from ecc.alerts.receivers_secrets import KEY_FILE, SecretBox, SecretError
from ecc.config import ConfigError, Settings

SMTP_PASSWORD = "smtp-Pa55word-in-clear"
WEBHOOK_SECRET = "whsec-plain-old-version"


@pytest.fixture(scope="module")
def robots():
    server = Robots()
    yield server
    server.close()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "meta" / "ecc.sqlite3"
    engine = metadata.connect(f"sqlite:///{path}")
    metadata.migrate(engine)
    yield engine, path
    notify.wait_idle(10)
    engine.dispose()


def _key() -> str:
    return secrets.token_urlsafe(32)


def _file_holds(path, *needles: str) -> list[str]:
    data = path.read_bytes()
    journal = path.with_name(path.name + "-journal")
    data += journal.read_bytes() if journal.exists() else b""
    return [n for n in needles if n.encode() in data]


def test_the_database_file_holds_no_secret_in_clear(db, robots, tmp_path):
    engine, path = db
    key = _key()
    box = SecretBox([key])
    ding = receivers.create_receiver(engine, {"kind": "dingtalk", "secret": SECRET,
                                              "url": robots.url + "/dingtalk?access_token=tok"}, box)
    receivers.create_receiver(engine, {"kind": "email", "to": "oncall@example.com",
                                       "url": f"smtp://ecc:{SMTP_PASSWORD}@127.0.0.1:2525"}, box)
    # a password that breaks the URL (an unescaped "?") is refused, not stored with the URL
    with pytest.raises(receivers.ReceiverError, match="percent-encoded") as refused:
        receivers.create_receiver(engine, {"kind": "email", "to": "a@example.com",
                                           "url": "smtp://ecc:pass?word@127.0.0.1:2525"}, box)
    assert "pass?word" not in str(refused.value) + json.dumps(refused.value.detail)
    # a secret replaced: neither the old nor the new one in clear
    receivers.update_receiver(engine, ding["id"], {"secret": SECRET + "-v2"}, box)
    receivers.update_receiver(engine, ding["id"], {"secret": SECRET}, box)
    engine.dispose()
    assert _file_holds(path, SECRET, SMTP_PASSWORD, "-v2", "pass?word") == []
    with engine.connect() as conn:
        stored = [s for (s,) in conn.execute(text("SELECT secret FROM receivers ORDER BY id"))]
    assert all(s.startswith("fernet:") for s in stored)
    # ...and the sealed secret still signs: the robot checks the signature as DingTalk does
    before = len(robots.requests)
    notify.submit(engine, settings_for(tmp_path, secret_key=key), [alert(1)], "firing")
    assert notify.wait_idle(10)
    assert [r["verdict"] for r in robots.requests[before:] if "dingtalk" in r["path"]] == ["ok"]


def test_plain_rows_of_the_version_before_are_sealed_at_start(db, robots, tmp_path):
    engine, path = db
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:  # as 0003_receivers stored them
        conn.execute(text("INSERT INTO receivers (kind, name, url, to_addrs, secret, lang, enabled, "
                          "created_at, updated_at) "
                          "VALUES ('webhook', 'old', :url, '', :secret, '', 1, :now, :now)"),
                     {"url": robots.url + "/webhook", "secret": WEBHOOK_SECRET, "now": now})
    engine.dispose()
    assert _file_holds(path, WEBHOOK_SECRET) == [WEBHOOK_SECRET]  # the premise: it was there in clear

    with pytest.raises(ConfigError, match="ECC_SECRET_KEY"):  # no key: the web process does not start
        create_notify_api(engine, settings_for(tmp_path, secret_key=""), sweep_interval=None)
    key = _key()
    settings = settings_for(tmp_path, secret_key=key)
    create_notify_api(engine, settings, sweep_interval=None)  # the start with a key seals it
    engine.dispose()
    assert _file_holds(path, WEBHOOK_SECRET) == [], "not even in the file's free pages"
    [row] = receivers.list_receivers(engine)
    assert SecretBox([key]).open(row.secret) == WEBHOOK_SECRET

    robots.secret = WEBHOOK_SECRET
    try:
        before = len(robots.requests)
        notify.submit(engine, settings, [alert(2)], "firing")
        assert notify.wait_idle(10)
        got = robots.requests[before:]
        assert [r["verdict"] for r in got] == ["ok"] and "x-ecc-signature" in got[0]["headers"]
    finally:
        robots.secret = SECRET


def test_a_wrong_key_is_a_clear_refusal_at_start_and_a_clear_failed_delivery(db, robots, tmp_path):
    engine, _ = db
    right = settings_for(tmp_path, secret_key=_key(), notify_attempts=3)
    wrong = settings_for(tmp_path, secret_key=_key(), notify_attempts=3)
    box = receivers_secrets.box_for(right)
    signed = receivers.create_receiver(engine, {"kind": "feishu", "url": robots.url + "/feishu",
                                                "secret": SECRET}, box)
    plain = receivers.create_receiver(engine, {"kind": "webhook", "url": robots.url + "/webhook"}, box)

    with pytest.raises(ConfigError, match="another key"):
        create_notify_api(engine, wrong, sweep_interval=None)
    with pytest.raises(SecretError, match="ECC_SECRET_KEY"):
        receivers.target(receivers.get_receiver(engine, signed["id"]), box=receivers_secrets.box_for(wrong))

    # a process with the wrong key (or none) evaluates on: its deliveries to signed receivers fail at once,
    # logged with the reason; the others are sent
    before = len(robots.requests)
    for settings in (wrong, Settings(data_dir=str(tmp_path / "nokey"))):
        notify.submit(engine, settings, [alert(3)], "firing")  # returns; never raises
        assert notify.wait_idle(10)
    rows = log_of(engine, signed["id"])
    assert [(d["attempt"], d["status"]) for d in rows] == [(1, "failed"), (1, "failed")], "no pointless retry"
    assert {"another key" in d["error"] or "no key" in d["error"] for d in rows} == {True}
    assert all("ECC_SECRET_KEY" in d["error"] for d in rows)
    assert [d["status"] for d in log_of(engine, plain["id"])] == ["sent", "sent"]
    assert [r["path"] for r in robots.requests[before:]] == ["/webhook", "/webhook"]
    assert SECRET not in json.dumps(rows)


def test_without_a_key_a_secret_cannot_be_saved_and_nothing_breaks(db, robots, tmp_path):
    from werkzeug.serving import make_server

    engine, _ = db
    settings = Settings(data_dir=str(tmp_path / "nokey"), phone_hash_key="k")  # no ECC_SECRET_KEY, no file
    app = Flask("no-key")
    app.register_blueprint(create_notify_api(engine, settings, sweep_interval=None))  # starts: no secret yet
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}/api/v1/receivers"
    try:
        refused = requests.post(base, timeout=5, json={"kind": "dingtalk", "secret": SECRET,
                                                        "url": robots.url + "/dingtalk?access_token=t"})
        assert refused.status_code == 400 and "ECC_SECRET_KEY" in refused.json()["error"]
        assert SECRET not in refused.text
        made = requests.post(base, timeout=5, json={"kind": "webhook", "url": robots.url + "/webhook"})
        assert made.status_code == 201 and made.json()["has_secret"] is False
        assert [r.kind for r in receivers.list_receivers(engine)] == ["webhook"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_keys_rotate_the_first_seals_every_one_opens(db, tmp_path):
    engine, _ = db
    old, new = _key(), _key()
    receivers.create_receiver(engine, {"kind": "webhook", "url": "http://127.0.0.1:9/h", "secret": SECRET},
                              SecretBox([old]))
    # rotating: "new,old" opens the old rows and re-seals them under the new key at start
    assert receivers.seal_stored(engine, SecretBox([new, old])) == 1
    [row] = receivers.list_receivers(engine)
    assert SecretBox([new]).open(row.secret) == SECRET
    with pytest.raises(SecretError):
        SecretBox([old]).open(row.secret)
    assert receivers.seal_stored(engine, SecretBox([new])) == 0, "nothing left to re-seal"


def test_the_key_comes_from_the_variable_or_the_demo_made_file(tmp_path):
    settings = Settings(data_dir=str(tmp_path))
    assert receivers_secrets.resolve_key(settings).secret_key == ""
    made = receivers_secrets.resolve_key(settings, create=True).secret_key  # `ecc demo`
    assert len(made) >= 32 and (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert receivers_secrets.resolve_key(settings).secret_key == made, "every later process reads the same"
    assert receivers_secrets.resolve_key(settings.with_(secret_key="x" * 40)).secret_key == "x" * 40
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        receivers_secrets.resolve_key(settings)
    with pytest.raises(ConfigError, match="at least 32"):
        SecretBox(["short"])
    env = Settings.from_env({"ECC_SECRET_KEY": "k" * 32 + "," + "j" * 32})
    assert receivers_secrets.box_for(env) is not None


def test_the_longest_secret_fits_sealed(engine):
    box = SecretBox([_key()])
    longest = "s" * 512
    made = receivers.create_receiver(engine, {"kind": "webhook", "url": "http://127.0.0.1:9/h",
                                              "secret": longest}, box)
    stored = receivers.get_receiver(engine, made["id"]).secret
    assert len(stored) > 512 and box.open(stored) == longest
