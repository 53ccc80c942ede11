"""Transport noise: malformed raw lines (the simulator's `bad` option) as broken producers send them.

Each is derived from a real event and drawn from the simulator's noise stream, never its business stream,
so switching noise on adds it around exactly the same business facts. Late and duplicated events are
scheduled by `ecc.sim.simulate.Simulator` itself.
"""

from __future__ import annotations

import random

from ecc.contract import catalogue
from ecc.sim.sim_model import MINUTE, one
from ecc.sim.sim_wire import iso, to_line

_REQUIRED = {"lead": ("lead_id", "channel"), "step": ("lead_id", "channel", "step"),
             "call": ("lead_id", "outcome"), "deposit": ("account_id", "amount"),
             "asset": ("account_id", "holdings"), "trade": ("account_id", "amount", "product")}
_WRONG_TYPE = {"lead": ("lead_id", 12345), "step": ("step", "三"), "call": ("outcome", 1),
               "deposit": ("amount", True), "asset": ("holdings", ["stock", 1000]),
               "trade": ("amount", {"value": 1})}
_BAD_ENUM = {"lead": ("device", "ipad"), "step": ("status", "pending"), "call": ("outcome", "hangup"),
             "deposit": ("direction", "sideways"), "asset": ("level", "V9"), "trade": ("product", "crypto")}
_GARBAGE = ("<html><body><h1>502 Bad Gateway</h1></body></html>", "type=lead&lead_id=L1&channel=douyin",
            "{'event_id': 'e1', 'type': 'lead'}", "ERROR upstream timeout after 30000 ms")
BAD_KINDS = ("truncated", "garbage", "missing_field", "naive_ts", "future_ts", "wrong_type", "unknown_type",
             "bad_enum", "negative_amount", "three_decimals", "not_object", "channel_name")


def malformed(event: dict, emit_ms: int, rng: random.Random) -> str:
    """A raw line the door must reject, derived from a real event as a broken producer would send it."""
    obj = {**event, "event_id": "x" + event["event_id"]}  # never collides with a valid event's id
    etype, kind = event["type"], one(rng, BAD_KINDS)
    if kind in ("negative_amount", "three_decimals") and "amount" not in obj:
        kind = "bad_enum"
    if kind == "channel_name" and etype not in ("lead", "step"):
        kind = "wrong_type"
    if kind == "truncated":
        return to_line(obj)[:len(to_line(obj)) // 2]
    if kind == "garbage":
        return one(rng, _GARBAGE)
    if kind == "not_object":
        return to_line([obj])
    if kind == "missing_field":
        del obj[one(rng, ("event_id", "type", "ts") + _REQUIRED[etype])]
    elif kind in ("naive_ts", "future_ts"):
        obj["ts"] = obj["ts"][:-6] if kind == "naive_ts" else iso(emit_ms + rng.randint(10, 180) * MINUTE)
    elif kind in ("wrong_type", "bad_enum"):
        name, value = (_WRONG_TYPE if kind == "wrong_type" else _BAD_ENUM)[etype]
        obj[name] = value
    elif kind == "unknown_type":
        obj["type"] = one(rng, ("click", "pageview", "LEAD", "order"))
    elif kind in ("negative_amount", "three_decimals"):
        obj["amount"] = "-" + obj["amount"] if kind == "negative_amount" else obj["amount"] + "7"
    elif kind == "channel_name":
        obj["channel"] = catalogue.channel_label(obj["channel"])  # the Chinese name instead of the code
    return to_line(obj)
