"""The door: docs/events.md validation and phone masking (pure, no services)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ecc.contract import pii
from ecc.contract.validate import InvalidEvent, check_objects, decode, masked_raw, parse_lines, validate

NOW = 1_795_300_000_000  # 2026-11-22T06:26:40+08:00
KEY = "k"


def ok(**fields):
    return validate(fields, phone_key=KEY, now_ms=NOW)


def reason(**fields) -> str:
    with pytest.raises(InvalidEvent) as err:
        validate(fields, phone_key=KEY, now_ms=NOW)
    return str(err.value)


BASE = {"event_id": "e1", "ts": "2026-11-21T09:30:05.120+08:00"}


def test_lead_masks_and_hashes_phone():
    e = ok(**BASE, type="lead", lead_id="L1", channel="douyin", phone="138 1234-1234", province="云南")
    assert e.phone_masked == "138****1234"
    assert e.phone_hash == pii.hash_phone("13812341234", KEY) and "13812341234" not in e.to_json().decode()
    assert e.ts_ms == 1_795_224_605_120 and e.province == "云南"


def test_same_phone_same_hash_other_key_other_hash():
    assert pii.hash_phone("13812341234", "a") == pii.hash_phone("13812341234", "a")
    assert pii.hash_phone("13812341234", "a") != pii.hash_phone("13812341234", "b")
    assert pii.normalise_phone("+86 138-1234-1234") == "13812341234"


def test_defaults_and_decimals():
    step = ok(**BASE, type="step", lead_id="L1", channel="wechat", step=3)
    assert step.status == "done"
    dep = ok(**BASE, type="deposit", account_id="A1", amount=Decimal("0.1"))
    assert dep.direction == "in" and dep.amount == "0.10" and dep.first is False
    assert ok(**BASE, type="deposit", account_id="A1", amount="50000").amount_fen == 5_000_000
    asset = ok(**BASE, type="asset", account_id="A1", holdings={"stock": 1, "cash": "512.3"})
    assert asset.holdings == {"stock": "1.00", "cash": "512.30"}
    call = ok(**BASE, type="call", lead_id="L1", outcome="busy", by="agent", extra_field=[1])
    assert call.caller == "agent"


@pytest.mark.parametrize("fields, expected", [
    ({"type": "lead", "lead_id": "L1"}, "channel is missing"),
    ({"type": "lead", "lead_id": 7, "channel": "x"}, "lead_id must be a string"),
    ({"type": "lead", "lead_id": "L1", "channel": "Douyin!"}, "channel must match"),
    ({"type": "step", "lead_id": "L1", "channel": "x", "step": 12}, "step must be an integer 1..11"),
    ({"type": "step", "lead_id": "L1", "channel": "x", "step": True}, "step must be an integer"),
    ({"type": "step", "lead_id": "L1", "channel": "x", "step": 11}, "account_id is missing"),
    ({"type": "call", "lead_id": "L1", "outcome": "maybe"}, "outcome must be one of"),
    ({"type": "deposit", "account_id": "A", "amount": "-5"}, "amount must be > 0"),
    ({"type": "deposit", "account_id": "A", "amount": "1.005"}, "more than 2 decimals"),
    ({"type": "deposit", "account_id": "A", "amount": True}, "amount must be a decimal"),
    ({"type": "deposit", "account_id": "A", "amount": "1", "first": "yes"}, "first must be true or false"),
    ({"type": "asset", "account_id": "A", "holdings": {"gold": 1}}, "unknown asset class"),
    ({"type": "trade", "account_id": "A", "amount": "5"}, "product is missing"),
    ({"type": "nope"}, "type must be one of"),
    ({"type": "lead", "lead_id": "L1", "channel": "x", "phone": "12ab"}, "phone is not a phone number"),
])
def test_rejections_say_why(fields, expected):
    assert expected in reason(**BASE, **fields)


def test_timestamps():
    assert "no UTC offset" in reason(event_id="e", type="lead", lead_id="L", channel="x",
                                     ts="2026-11-21T09:30:05")
    assert "future" in reason(event_id="e", type="lead", lead_id="L", channel="x",
                              ts="2026-11-22T06:35:00+08:00")  # NOW + 8m20s
    assert ok(event_id="e", type="lead", lead_id="L", channel="x", ts="2026-11-22T06:30:00+08:00")
    assert ok(event_id="e", type="lead", lead_id="L", channel="x", ts="2026-11-21T01:30:05Z").ts_ms \
        == ok(event_id="e", type="lead", lead_id="L", channel="x", ts="2026-11-21T09:30:05+08:00").ts_ms
    assert "event_id must be 1..64" in reason(event_id="x" * 65, type="lead", ts=BASE["ts"])


def test_bad_lines_do_not_take_good_ones_down():
    good = json.dumps({**BASE, "type": "lead", "lead_id": "L1", "channel": "douyin"})
    lines = [good, "{not json 13812341234", "", json.dumps([1]),
             json.dumps({**BASE, "event_id": "e2", "type": "lead", "channel": "x", "phone": "13800001111"})]
    batch = parse_lines(lines, source="file", phone_key=KEY, now_ms=NOW)
    assert [e.event_id for e in batch.accepted] == ["e1"]
    assert [r.index for r in batch.rejected] == [1, 3, 4]
    assert "line 2 is not valid JSON" in batch.rejected[0].reason
    assert "must be a JSON object" in batch.rejected[1].reason
    assert "lead_id is missing" in batch.rejected[2].reason
    for rej in batch.rejected:
        assert "13812341234" not in rej.raw and "13800001111" not in rej.raw
    assert "138****1234" in batch.rejected[0].raw and "138****1111" in batch.rejected[2].raw


def test_masked_raw_masks_odd_phone_values():
    assert "5551234567" not in masked_raw({"phone": "555-1234567"})
    assert "13812341234" not in masked_raw({"phone": 13812341234})
    assert "13812341234" not in masked_raw(text='{"note": "call +86 138 1234 1234"}')


# ---- hostile input (issue 6): every bad line is its own rejection; phones never pass the door ----

def good_line(event_id: str = "g1") -> str:
    return json.dumps({**BASE, "event_id": event_id, "type": "lead", "lead_id": "L1", "channel": "douyin"})


def one_rejection(line, **kw) -> str:
    batch = parse_lines([good_line("before"), line, good_line("after")], source="file", phone_key=KEY,
                        now_ms=NOW, **kw)
    assert [e.event_id for e in batch.accepted] == ["before", "after"]
    assert len(batch.rejected) == 1 and batch.rejected[0].index == 1
    return batch.rejected[0].reason


@pytest.mark.parametrize("line, expected", [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
    ('{"a":' * 50 + "1" + "}" * 50, "nested deeper than 32 levels"),
    (json.dumps({**BASE, "type": "deposit", "account_id": "A",
                 "amount": "123456789012345678901234567890.123"}), "amount is too large"),
    (json.dumps({**BASE, "type": "deposit", "account_id": "A", "amount": "1e999999999"}),
     "amount is too large"),
    ('{"event_id":"e1","type":"deposit","ts":"2026-11-21T09:30:05+08:00","account_id":"A","amount":'
     + "9" * 5000 + "}", "more than 40 digits"),
    ('{"event_id":"e1","type":"deposit","ts":"2026-11-21T09:30:05+08:00","account_id":"A","amount":NaN}',
     "NaN is not a JSON number"),
    ('{"event_id":"e1","type":"deposit","ts":"2026-11-21T09:30:05+08:00","account_id":"A","amount":-Infinity}',
     "-Infinity is not a JSON number"),
    (b'{"event_id":"e1","type":"lead","lead_id":"L\xff","channel":"x","ts":"2026-11-21T09:30:05+08:00"}',
     "not valid UTF-8 (byte 0xff"),
    ('{"event_id":"e1","type":"lead","lead_id":"L\\ud800","channel":"x","ts":"2026-11-21T09:30:05+08:00"}',
     "lone surrogate"),
    (b"x" * (1 << 20) + b"y", "longer than 1048576 bytes"),
    ('{"event_id":"e1","type":["lead"],"ts":"2026-11-21T09:30:05+08:00"}', "type must be one of"),
    ('{"event_id":"e1","type":{"a":1},"ts":"2026-11-21T09:30:05+08:00"}', "type must be one of"),
    (json.dumps({**BASE, "type": "lead", "lead_id": "L", "channel": "x", "ts": "0001-01-01T00:00:00+08:00"}),
     "older than the history horizon of 730 days"),
    (json.dumps({**BASE, "type": "lead", "lead_id": "L", "channel": "x", "ts": "1970-01-01T00:00:00+00:00"}),
     "older than the history horizon of 730 days"),
    (json.dumps({**BASE, "type": "lead", "lead_id": "L", "channel": "x", "ts": "9999-12-31T23:59:59-14:00"}),
     "more than 5 minutes in the future"),
    (json.dumps({**BASE, "type": "lead", "lead_id": "L", "channel": "x", "ts": "2" * 10_000}),
     "not an ISO-8601 timestamp"),
])
def test_one_bad_line_is_one_rejection(line, expected):
    assert expected in one_rejection(line)


def test_bom_crlf_and_bytes_are_fine():
    lines = [b"\xef\xbb\xbf" + good_line("a").encode() + b"\r\n", good_line("b").encode() + b"\r\n",
             bytearray(good_line("c").encode()), b"\r\n"]
    batch = parse_lines(lines, source="kafka", phone_key=KEY, now_ms=NOW)
    assert [e.event_id for e in batch.accepted] == ["a", "b", "c"] and not batch.rejected


def test_non_text_messages_are_rejections():
    batch = parse_lines([None, 12, good_line("ok")], source="kafka", phone_key=KEY, now_ms=NOW)
    assert [e.event_id for e in batch.accepted] == ["ok"]
    assert [r.reason for r in batch.rejected] == ["line 1 is not text (NoneType)", "line 2 is not text (int)"]


def test_history_horizon_is_a_setting():
    old = {**BASE, "type": "lead", "lead_id": "L", "channel": "x", "ts": "2026-10-01T00:00:00+08:00"}
    assert validate(old, phone_key=KEY, now_ms=NOW)
    with pytest.raises(InvalidEvent, match="history horizon of 30 days"):
        validate(old, phone_key=KEY, now_ms=NOW, history_days=30)
    assert "history horizon of 30 days" in one_rejection(json.dumps(old), history_days=30)


def test_check_objects_never_raises():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    objs = [{**BASE, "type": "lead", "lead_id": "L", "channel": "x"}, deep, {"phone": 10**5000}, float("nan"),
            {**BASE, "type": "trade", "account_id": "A", "amount": float("inf"), "product": "fund"},
            {**BASE, "type": "trade", "account_id": "A", "amount": 10**300, "product": "fund"},
            {(1, 2): "tuple key"}, {**BASE, "type": "lead", "lead_id": "L", "channel": "x", "phone": 10**80}]
    batch = check_objects(objs, source="http", phone_key=KEY, now_ms=NOW)
    assert [e.event_id for e in batch.accepted] == ["e1"]
    assert [r.index for r in batch.rejected] == [1, 2, 3, 4, 5, 6, 7]
    assert "nested deeper than 32 levels" in batch.rejected[0].reason
    for rej in batch.rejected:
        assert rej.to_json()  # storable


def test_decode_raises_only_value_errors():
    for body in (b"\xff", "[" * 100_000, "NaN", "1" * 5000, '{"a": Infinity}'):
        with pytest.raises(ValueError):
            decode(body)
    assert decode(b"\xef\xbb\xbf[1]") == [1]


PHONE = "+86 138 1234 1234"


@pytest.mark.parametrize("field", ["campaign", "city", "province"])
def test_phone_in_free_text_is_masked(field):
    e = ok(**BASE, type="lead", lead_id="L1", channel="douyin", **{field: f"致电{PHONE}"})
    assert getattr(e, field) == "致电138****1234" and "1234 1234" not in e.to_json().decode()
    step = ok(**BASE, type="step", lead_id="L1", channel="douyin", step=2, status="rejected",
              reason="回拨 138.1234.1234")
    assert step.reason == "回拨 138****1234"


@pytest.mark.parametrize("fields", [
    {"event_id": "13812341234"},
    {"lead_id": "L13812341234"},
    {"lead_id": "(138)1234-1234"},
    {"account_id": "A-１３８１２３４１２３４", "type": "deposit", "amount": "1"},
    {"channel": "u13812341234"},
    {"channel": "c_138_1234_1234"},
])
def test_ids_holding_a_phone_are_rejected(fields):
    event = {**BASE, "type": "lead", "lead_id": "L1", "channel": "douyin", **fields}
    why = reason(**event)
    assert "holds a phone number" in why and "138****1234" in why
    assert pii.find_phones(why) == []


@pytest.mark.parametrize("fields", [
    {"type": "13812341234"}, {"ts": "138-1234-1234"}, {"ts": 13812341234},
    {"type": "deposit", "account_id": "A", "amount": "(138)1234-1234"},
    {"type": "deposit", "account_id": "A", "amount": "13812341234"},
    {"type": "call", "lead_id": "L", "outcome": "１３８１２３４１２３４"},
    {"type": "lead", "lead_id": "L", "channel": "138 1234 1234"},
    {"type": "asset", "account_id": "A", "holdings": {"13812341234": 1}},
])
def test_phones_as_bad_values_are_masked_in_reason_and_raw(fields):
    line = json.dumps({**BASE, **fields}, ensure_ascii=False)
    batch = parse_lines([line], source="http", phone_key=KEY, now_ms=NOW)
    assert not batch.accepted, fields
    rej = batch.rejected[0]
    assert pii.find_phones(rej.reason) == [] and pii.find_phones(rej.raw) == [], (rej.reason, rej.raw)


def test_phone_in_a_key_and_unparsable_lines_are_masked():
    batch = parse_lines(['{"13812341234": 1}', "{138.1111.0013", "(138)1111-0039 called", '{"a": "x\\u00a0"'],
                        source="http", phone_key=KEY, now_ms=NOW)
    assert len(batch.rejected) == 4
    for rej in batch.rejected:
        assert pii.find_phones(rej.raw) == [] and pii.find_phones(rej.reason) == []


def test_an_unexpected_error_is_a_named_rejection(monkeypatch, caplog):
    import ecc.contract.validate as v

    def boom(*_a, **_k):
        raise ZeroDivisionError("13812341234")
    monkeypatch.setattr(v, "validate", boom)
    batch = parse_lines([good_line()], source="file", phone_key=KEY, now_ms=NOW)
    assert batch.rejected[0].reason == "event 0 could not be checked (ZeroDivisionError); it was not accepted"
    assert "ZeroDivisionError" in caplog.text and "13812341234" not in caplog.text
