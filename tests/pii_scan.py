"""Helpers for leak scans (issue 6): find raw phone numbers anywhere, and build hostile input.

`find_phones(text)` lists every raw mainland mobile number in any common form (the same definition the
door masks with), also behind JSON `\\uXXXX` escapes; use it on dumps of every store, topic, log,
API response, CSV and the rendered wall after feeding `hostile_events()` through the door.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from ecc.contract import pii

_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")

# Every form the door must mask, with the digits they stand for.
PHONE_FORMS = ("13812341234", "+86 138 1234 1234", "138-1234-1234", "138.1234.1234", "(138)1234-1234",
               "138 1234 1234", "１３８１２３４１２３４", "+8613812341234", "008613812341234",
               "138.1111.0013", "(138)1111-0039", "139\u00a02222\u00a03333")


def find_phones(text: str | bytes) -> list[str]:
    """Raw mobile numbers in `text` (bytes are read as UTF-8, invalid bytes ignored)."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    found = pii.find_phones(text)
    if "\\u" in text:
        found += pii.find_phones(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    return found


def _line(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def hostile_events(now: datetime | None = None, tag: str = "h") -> list[bytes]:
    """NDJSON lines a careless or hostile upstream sends (findings 1, 2, 4 of issue 6), good lines among
    them. Every phone in them is in PHONE_FORMS; none may come out of ECC unmasked."""
    now = now or datetime.now(UTC)
    ts = (now - timedelta(minutes=5)).isoformat()
    out: list[bytes] = []
    base = {"type": "lead", "ts": ts, "channel": "douyin"}
    for i, phone in enumerate(PHONE_FORMS):
        # accepted, with the phone masked: in the phone field and in every free-text field
        out.append(_line({**base, "event_id": f"{tag}-ph{i}", "lead_id": f"{tag}-L{i}", "phone": phone,
                          "campaign": f"call {phone}", "city": phone[:32], "province": f"省{phone}"[:32]}))
        out.append(_line({"event_id": f"{tag}-st{i}", "type": "step", "ts": ts, "lead_id": f"{tag}-L{i}",
                          "channel": "douyin", "step": 2, "status": "rejected", "reason": f"回拨 {phone}"}))
        # rejected: a phone in an id or the channel, or as the bad value of type / ts / amount
        out.append(_line({**base, "event_id": f"{tag}-{phone}", "lead_id": "L"}))
        out.append(_line({**base, "event_id": f"{tag}-id{i}", "lead_id": phone}))
        out.append(_line({"event_id": f"{tag}-ac{i}", "type": "deposit", "ts": ts, "account_id": f"A{phone}",
                          "amount": "1"}))
        out.append(_line({**base, "event_id": f"{tag}-ch{i}", "lead_id": "L", "channel": phone}))
        out.append(_line({**base, "event_id": f"{tag}-ty{i}", "type": phone}))
        out.append(_line({**base, "event_id": f"{tag}-ts{i}", "lead_id": "L", "ts": phone}))
        out.append(_line({"event_id": f"{tag}-am{i}", "type": "deposit", "ts": ts, "account_id": "A",
                          "amount": phone}))
        out.append(_line({**base, "event_id": f"{tag}-key{i}", phone: 1}))  # accepted: unknown key dropped
        out.append(f"not json, call {phone}".encode())
        out.append(f'{{"event_id": "{tag}-broken{i}", "note": "{phone}"'.encode())
    out += [
        b"[" * 100_000 + b"]" * 100_000,
        _line({**base, "event_id": f"{tag}-big", "type": "deposit", "account_id": "A",
               "amount": "123456789012345678901234567890.123"}),
        ('{"event_id":"' + tag + '-int","type":"deposit","ts":"' + ts + '","account_id":"A","amount":'
         + "9" * 5000 + "}").encode(),
        ('{"event_id":"' + tag + '-nan","type":"deposit","ts":"' + ts
         + '","account_id":"A","amount":NaN}').encode(),
        b'{"event_id":"' + tag.encode() + b'-utf","type":"lead","lead_id":"L\xff\xfe","channel":"douyin",'
        + b'"ts":"' + ts.encode() + b'"}',
        _line({**base, "event_id": f"{tag}-y1", "lead_id": "L", "ts": "0001-01-01T00:00:00+08:00"}),
        _line({**base, "event_id": f"{tag}-y1970", "lead_id": "L", "ts": "1970-01-01T00:00:00+00:00"}),
        _line({**base, "event_id": f"{tag}-formula", "lead_id": '=HYPERLINK("http://x","y")'}),
        _line({**base, "event_id": f"{tag}-formula2", "lead_id": "+cmd|' /C calc'!A0",
               "campaign": "@SUM(1)"}),
    ]
    # 150 leads spread over 150 months (finding 1): the old ones are beyond the history horizon
    for i in range(150):
        month = (now - timedelta(hours=1, days=30.44 * i)).isoformat()
        out.append(_line({**base, "event_id": f"{tag}-m{i}", "lead_id": f"{tag}-P{i}", "ts": month}))
    return out
