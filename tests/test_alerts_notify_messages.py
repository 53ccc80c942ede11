"""The words of a notification (ecc/alerts/messages.py) and the vendors' signatures: pure functions, plus the
source a no_data alert names, read from its rule (H1a's rules in the real metadata database) and carried
to every receiver."""


from __future__ import annotations

import json

import pytest
from notify_receivers import _dingtalk_expected, _feishu_expected, add, alert, settings_for
from notify_receivers import engine as engine  # the fixtures, found by name in this module
from notify_receivers import robots as robots

from ecc.alerts import messages, notify


def test_signatures_match_the_vendors_documented_examples():
    from ecc.alerts.notify_formats import dingtalk_sign, feishu_sign

    assert dingtalk_sign("SECabc", 1700000000000) == _dingtalk_expected("SECabc", "1700000000000")
    assert feishu_sign("abc", 1700000000) == _feishu_expected("abc", "1700000000")
    assert dingtalk_sign("SECabc", 1700000000000) != dingtalk_sign("SECabd", 1700000000000)


def test_message_words_and_numbers():
    msg = messages.render([alert(1, kind="no_data", channel="lead", step=None, observed=185, baseline=60,
                                 sample=None, p_value=None, link="https://x.example/drill")], "firing")
    text_ = msg.plain_text()
    assert "数据中断" in text_ and "185 秒" in text_ and "https://x.example/drill" in text_
    assert "样本量" not in text_ and "p 值" not in text_
    volume = messages.render([alert(2, kind="lead_volume_spike", step=None, observed=1500, baseline=600)],
                             "firing", lang="en", public_url="")
    assert "lead volume spike · Douyin" in volume.plain_text() and "1,500" in volume.plain_text()
    assert volume.alerts[0]["link"].startswith("/drill"), "no public URL: the link stays as it is"
    assert messages.absolute_link("drill?x=1", "https://h/ecc/") == "https://h/ecc/drill?x=1"
    with pytest.raises(ValueError):
        messages.render([alert(3)], "exploded")


def test_a_no_data_alert_names_the_source_that_went_quiet():
    quiet = alert(5, kind="no_data", channel=None, step=None, observed=400, baseline=300, sample=None,
                  p_value=None, source="step")
    zh = messages.render([quiet], "firing").plain_text()
    en = messages.render([quiet], "firing", lang="en").plain_text()
    assert "数据中断 · 开户步骤事件" in zh and "全部渠道" not in zh and "400 秒" in zh
    assert "no data · account-opening step events" in en
    everything = messages.render([{**quiet, "source": "all"}], "resolved").plain_text()
    assert "数据中断 · 全部事件" in everything
    unknown = messages.render([{**quiet, "source": "ticks"}], "firing").plain_text()
    assert "数据中断 · ticks" in unknown, "a source the words do not know is shown as it is"
    no_source = messages.render([{**quiet, "source": None}], "firing").plain_text()
    assert "数据中断 · 全部渠道" in no_source, "an alert without a source reads as before"


def test_no_data_notifications_carry_the_source_of_their_rule(engine, robots, tmp_path):
    store = pytest.importorskip("ecc.alerts.store")
    store.ensure_defaults(engine)
    rules = {r["params"].get("source"): r["id"] for r in store.list_rules(engine) if r["kind"] == "no_data"}
    assert "lead" in rules, rules
    add(engine, {"kind": "webhook", "url": robots.url + "/webhook"})
    add(engine, {"kind": "wecom", "url": robots.url + "/wecom?key=robot-key"})
    before = len(robots.requests)
    quiet = alert(61, rule_id=rules["lead"], kind="no_data", channel=None, step=None, observed=900,
                  baseline=300, sample=None, p_value=None, link="/drill")
    notify.submit(engine, settings_for(tmp_path), [quiet], "firing")
    assert notify.wait_idle(10)
    got = {r["path"].split("?")[0]: r for r in robots.requests[before:]}
    hook = json.loads(got["/webhook"]["body"])
    assert hook["alerts"][0]["source"] == "lead", "the webhook's alert says which source, for machines"
    assert "数据中断 · 线索事件" in hook["text"]
    assert "数据中断 · 线索事件" in json.loads(got["/wecom"]["body"])["markdown"]["content"]
