"""The door: contract/events.md validation and phone masking (pure, no services)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ecc import pii
from ecc.validate import InvalidEvent, masked_raw, parse_lines, validate

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
