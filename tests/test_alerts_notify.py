"""Notifications against real receivers on 127.0.0.1 (tests/notify_receivers.py): one message per group per
receiver in each vendor's format with its signature, retries with backoff, a hanging or dead receiver that
never holds up the others, languages, silences, e-mail with login."""


from __future__ import annotations

import json
import socket
import time
import uuid
from email import message_from_bytes, policy

from notify_receivers import SECRET, Mailbox, add, alert, log_of, settings_for
from notify_receivers import engine as engine  # the fixtures, found by name in this module
from notify_receivers import mailbox as mailbox
from notify_receivers import robots as robots

from ecc.alerts import notify, notify_log, receivers


def test_every_format_gets_one_message_per_group_with_the_evidence(engine, robots, mailbox, tmp_path):
    made = {
        "webhook": add(engine, {"kind": "webhook", "url": robots.url + "/webhook",
                                                      "secret": SECRET}),
        "wecom": add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"}),
        "dingtalk": add(engine, {"kind": "dingtalk", "secret": SECRET,
                                                       "url": robots.url + "/dingtalk?access_token=tok"}),
        "feishu": add(engine, {"kind": "feishu", "url": robots.url + "/feishu",
                                                     "secret": SECRET}),
        "email": add(engine, {"kind": "email", "to": "oncall@example.com, boss@example.com",
                                                    "url": mailbox.url}),
    }
    before = len(robots.requests)
    group = [alert(101), alert(102, channel="wechat", step=5, observed=0.3, baseline=0.5, sample=800)]
    started = time.monotonic()
    notify.submit(engine, settings_for(tmp_path), group, "firing")
    assert time.monotonic() - started < 0.1, "submit must not wait for the receivers"
    assert notify.wait_idle(20)

    for kind in ("webhook", "wecom", "dingtalk", "feishu"):
        got = [r for r in robots.requests[before:] if r["path"].lstrip("/").startswith(kind)]
        assert len(got) == 1, f"{kind}: one message for the group of two, got {len(got)}"
        assert got[0]["verdict"] == "ok", f"{kind}: {got[0]['verdict']}"
    assert len(mailbox.messages) == 1
    rcpts, raw = mailbox.messages[0]
    assert sorted(rcpts) == ["boss@example.com", "oncall@example.com"]

    hook = json.loads(robots.received("webhook")[-1]["body"])
    assert "x-ecc-signature" in robots.received("webhook")[-1]["headers"], "signed, and the robot checked it"
    assert hook["transition"] == "firing" and [a["id"] for a in hook["alerts"]] == [101, 102]
    assert len(hook["group_id"]) == 32
    assert hook["alerts"][0]["link"].startswith("https://ecc.example.com/drill?channel=douyin&step=8")
    texts = {
        "webhook": hook["text"],
        "wecom": json.loads(robots.received("wecom")[-1]["body"])["markdown"]["content"],
        "dingtalk": json.loads(robots.received("dingtalk")[-1]["body"])["markdown"]["text"],
        "feishu": json.dumps(json.loads(robots.received("feishu")[-1]["body"])["content"],
                             ensure_ascii=False),
        "email": message_from_bytes(raw, policy=policy.default).get_content(),
    }
    subject = message_from_bytes(raw, policy=policy.default)["Subject"]
    assert "2 条告警触发" in subject
    for kind, body in texts.items():
        for needle in ("断点转化率下降", "抖音", "8 · 视频见证", "42.0%", "60.0%", "-30.0%", "1,234",
                       "< 0.0001", "2026-11-27 14:03:05",  # 06:03:05 UTC in Shanghai
                       "https://ecc.example.com/drill?channel=douyin&step=8", "微信生态", "5 · 风险测评"):
            assert needle in body, f"{kind} message lacks {needle!r}"

    for kind, r in made.items():
        rows = log_of(engine, r["id"])
        assert sorted(d["alert_id"] for d in rows) == [101, 102], kind
        assert {(d["attempt"], d["status"], d["error"]) for d in rows} == {(1, "sent", None)}, kind


def test_dead_receivers_are_retried_with_backoff_and_the_others_still_get_theirs(engine, robots, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dead = add(engine, {"kind": "webhook", "url": f"http://127.0.0.1:{closed}/hook"})
    broken = add(engine, {"kind": "webhook", "url": robots.url + "/down"})
    flaky = add(engine, {"kind": "webhook", "url": robots.url + f"/fail/1/{uuid.uuid4().hex}"})
    good = add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"})
    before = len(robots.requests)
    settings = settings_for(tmp_path, notify_attempts=3, notify_backoff_s=0.3)
    notify.submit(engine, settings, [alert(7)], "firing")
    assert notify.wait_idle(20)

    # the good receiver got its message at once, whatever the others did
    got = [r for r in robots.requests[before:] if r["path"].startswith("/wecom")]
    assert len(got) == 1 and got[0]["verdict"] == "ok"
    assert [(d["attempt"], d["status"]) for d in log_of(engine, good["id"])] == [(1, "sent")]

    for r, reason in ((dead, "unreachable"), (broken, "HTTP 500")):
        rows = sorted(log_of(engine, r["id"]), key=lambda d: d["attempt"])
        assert [(d["attempt"], d["status"]) for d in rows] == \
            [(1, "retrying"), (2, "retrying"), (3, "failed")]
        assert all(reason in d["error"] for d in rows), rows
    # a receiver that recovers is sent to on its second attempt
    rows = sorted(log_of(engine, flaky["id"]), key=lambda d: d["attempt"])
    assert [(d["attempt"], d["status"]) for d in rows] == [(1, "retrying"), (2, "sent")]
    copies = [json.loads(r["body"]) for r in robots.requests[before:] if r["path"].startswith("/fail/1/")]
    assert len(copies) == 2 and copies[0]["group_id"] == copies[1]["group_id"], "a retry is the same message"

    # exponential backoff: 0.3 s, then 0.6 s between the attempts at the broken receiver
    times = [r["at"] for r in robots.requests[before:] if r["path"] == "/down"]
    assert len(times) == 3
    first, second = times[1] - times[0], times[2] - times[1]
    # (lower bounds are exact: the timer never fires early; upper bounds leave room for a busy machine)
    assert 0.28 <= first < 3 and 0.58 <= second < 4, (first, second)
    # the delivery log is newest first
    ats = [d["at"] for d in notify_log.list_deliveries(engine)]
    assert ats == sorted(ats, reverse=True)


def test_a_hanging_receiver_costs_one_timeout_not_the_others(engine, robots, tmp_path):
    slow = add(engine, {"kind": "webhook", "url": robots.url + "/slow"})
    good = add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    started = time.monotonic()
    settings = settings_for(tmp_path, notify_attempts=1, notify_timeout_s=0.5)
    notify.submit(engine, settings, [alert(9)], "firing")
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and not log_of(engine, good["id"]):
        time.sleep(0.02)
    assert [d["status"] for d in log_of(engine, good["id"])] == ["sent"]
    assert time.monotonic() - started < 2.5, "the good receiver does not wait for the hanging one (3 s)"
    assert notify.wait_idle(10)
    rows = log_of(engine, slow["id"])
    assert [d["status"] for d in rows] == ["failed"] and "0.5 s" in rows[0]["error"]


def test_english_receiver_resolved_and_silenced(engine, robots, tmp_path):
    en = add(engine, {"kind": "webhook", "url": robots.url + "/webhook", "lang": "en"})
    zh = add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    off = add(engine, {"kind": "webhook", "url": robots.url + "/webhook", "enabled": False})
    before = len(robots.requests)
    resolved = alert(11, state="resolved", resolved_at="2026-11-27T06:30:00+00:00")
    notify.submit(engine, settings_for(tmp_path), [resolved, alert(12, silenced=True)], "resolved")
    assert notify.wait_idle(10)
    bodies = [json.loads(r["body"]) for r in robots.requests[before:]]
    assert len(bodies) == 2, "one per enabled receiver"
    english = next(b for b in bodies if b["lang"] == "en")
    chinese = next(b for b in bodies if b["lang"] == "zh")
    assert "[ECC] 1 alert(s) resolved" in english["text"]
    assert "step conversion drop · Douyin · 8 · video witness" in english["text"]
    assert "Resolved: 2026-11-27 14:30:00" in english["text"]
    assert "已恢复" in chinese["title"]
    assert [a["id"] for a in english["alerts"]] == [11], "a silenced alert is not notified"
    assert log_of(engine, off["id"]) == []
    assert {d["alert_id"] for d in log_of(engine, en["id"]) + log_of(engine, zh["id"])} == {11}


def test_a_group_of_only_silenced_alerts_sends_nothing(engine, robots, tmp_path):
    add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    before = len(robots.requests)
    notify.submit(engine, settings_for(tmp_path), [alert(21, silenced=True)], "firing")
    notify.submit(engine, settings_for(tmp_path), [alert(22)], "no-such-transition")
    assert notify.wait_idle(10)
    assert robots.requests[before:] == []


def test_wecom_message_of_a_big_group_stays_within_its_limit(engine, robots, tmp_path):
    add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"})
    before = len(robots.requests)
    notify.submit(engine, settings_for(tmp_path), [alert(1000 + i) for i in range(60)], "repeat")
    assert notify.wait_idle(10)
    [got] = [r for r in robots.requests[before:] if r["path"].startswith("/wecom")]
    assert got["verdict"] == "ok"
    content = json.loads(got["body"])["markdown"]["content"]
    assert "仍未恢复" in content and "另有" in content and len(content.encode()) <= 4096


def test_wrong_secret_is_refused_by_the_vendor_and_logged_without_the_secret(engine, robots, tmp_path):
    r = add(engine, {"kind": "dingtalk", "url": robots.url + "/dingtalk?access_token=t",
                                           "secret": "SECwrong-secret"})
    notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(31)], "firing")
    assert notify.wait_idle(10)
    [row] = log_of(engine, r["id"])
    assert row["status"] == "failed" and "310000" in row["error"] and "sign not match" in row["error"]
    assert "SECwrong" not in json.dumps(notify_log.list_deliveries(engine))


def test_an_evaluator_without_settings_still_notifies(engine, robots):
    receivers.create_receiver(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    before = len(robots.requests)
    notify.submit(engine, None, [alert(41)], "firing")
    assert notify.wait_idle(10)
    assert [r["verdict"] for r in robots.requests[before:]] == ["ok"]


def test_email_through_a_server_that_requires_login_uses_the_secret_as_password(engine, tmp_path):
    box = Mailbox(password="m@il-pass")
    try:
        port = box.url.rsplit(":", 1)[1]
        right = add(engine, {"kind": "email", "to": "oncall@example.com", "secret": "m@il-pass",
                             "url": f"smtp://ecc@127.0.0.1:{port}"})
        wrong = add(engine, {"kind": "email", "to": "oncall@example.com", "secret": "guess",
                             "url": f"smtp://ecc@127.0.0.1:{port}"})
        notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(61)], "firing")
        assert notify.wait_idle(20)
        assert len(box.messages) == 1
        assert [d["status"] for d in log_of(engine, right["id"])] == ["sent"]
        [refused] = log_of(engine, wrong["id"])
        # (aiosmtpd answers a wrong password with 535 or, after smtplib's next mechanism, not at all)
        assert refused["status"] == "failed" and refused["error"].startswith("SMTP")
        assert "guess" not in refused["error"]
    finally:
        box.close()
