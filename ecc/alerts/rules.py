"""Alert rules as data: the six kinds, their default parameters, validation, mute windows. Pure.

A rule is `{"kind", "channel"?, "step"?, "params", "enabled"}` (docs/api.md). `channel` null means every
channel, each on its own when `params.per_channel` is true, else all channels together; `step` null
means every step the kind applies to, each on its own. Every rule's params carry `baseline` and `mute`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from ecc import timeutil
from ecc.contract import catalogue

BASELINES = ("same_time_recent_days", "same_hour_last_week", "trailing")
KINDS = ("step_conversion_drop", "lead_volume_drop", "lead_volume_spike", "dial_rate_low",
         "reject_rate_spike", "no_data")
STEP_KINDS = ("step_conversion_drop", "reject_rate_spike")
SOURCES = ("all", *catalogue.EVENT_TYPES)  # no_data: freshness of all events or of one event type
# Which source's silence makes a rule's numbers meaningless (inhibition: docs/alerts.md "Lifecycle").
SOURCES_OF = {"step_conversion_drop": ("all", "step"), "reject_rate_spike": ("all", "step"),
              "lead_volume_drop": ("all", "lead"), "lead_volume_spike": ("all", "lead"),
              "dial_rate_low": ("all", "lead", "call"), "no_data": ()}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

# Off hours of the opening flow and of the call centre: numbers at night are too thin to judge.
_NIGHT = [{"days": "mon-sun", "from": "00:00", "to": "08:30"},
          {"days": "mon-sun", "from": "22:30", "to": "24:00"}]
# The step rules from 22:00: the review desk (step 10 -> 11, 复核) closes then, and every lead still at
# step 10 waits for the morning; its conversion "drops" in every channel each evening (bench/alerts.py
# measured 8 such alerts at 22:01-22:06 of a normal day). That is office hours, not a breakpoint.
_STEP_NIGHT = [{"days": "mon-sun", "from": "00:00", "to": "08:30"},
               {"days": "mon-sun", "from": "22:00", "to": "24:00"}]
_COMMON = {"pending_s": 60, "resolve_s": 180, "repeat_minutes": 60, "per_channel": True, "mute": _NIGHT,
           "mute_holidays": False}
DEFAULT_PARAMS: dict[str, dict] = {
    # Conversion of the leads who completed step k in the window, as far as they got by now, against the
    # same measure in `baseline_windows` trailing windows, lead age by lead age (Mantel-Haenszel), in
    # windows of `scan_minutes` and `window_minutes` that end now (detect.scan: alpha shared by them).
    # alpha 2e-6: ~80 series (8 channels x 10 steps) judged every 10 s must stay silent on normal days
    # (a replayed normal day's most significant moment was 2e-5); a real drop's p falls steeply once a
    # window holds only leads after it, so this costs ~10-20 s of detection against 1e-5 (docs/alerts.md).
    "step_conversion_drop": {**_COMMON, "mute": _STEP_NIGHT, "baseline": "trailing", "window_minutes": 10,
                             "scan_minutes": [3, 4, 5, 6, 8], "min_sample": 150, "min_drop": 0.15,
                             "alpha": 2e-6, "recover_fraction": 0.5, "pending_s": 30, "baseline_windows": 12,
                             "trailing_step_minutes": 10, "recent_days": 7},
    # Same windows as the conversion rule: one query answers both. alpha 1e-6: a replayed normal day
    # (bench/alerts.py --normal-days 1) fired once at 1e-5, douyin step 10 at p 2.2e-6 (26 rejects of 220).
    "reject_rate_spike": {**_COMMON, "mute": _STEP_NIGHT, "baseline": "trailing", "window_minutes": 10,
                          "scan_minutes": [3, 4, 5, 6, 8], "min_sample": 150, "min_rise": 0.5, "alpha": 1e-6,
                          "recover_fraction": 0.5, "baseline_windows": 12, "trailing_step_minutes": 10,
                          "recent_days": 7},
    # Lead counts in the window against the same window on recent days (a Poisson rate comparison). Muted
    # on public holidays, whose traffic the recent working days do not predict (nor does the call centre).
    "lead_volume_drop": {**_COMMON, "mute_holidays": True, "baseline": "same_time_recent_days",
                         "window_minutes": 15,
                         "min_expected": 50, "min_drop": 0.4, "alpha": 1e-4, "recover_fraction": 0.5,
                         "recent_days": 7, "baseline_windows": 4, "trailing_step_minutes": 15,
                         "pending_s": 120},
    "lead_volume_spike": {**_COMMON, "mute_holidays": True, "baseline": "same_time_recent_days",
                          "window_minutes": 15,
                          "min_expected": 50, "min_rise": 1.0, "alpha": 1e-4, "recover_fraction": 0.5,
                          "recent_days": 7, "baseline_windows": 4, "trailing_step_minutes": 15,
                          "pending_s": 120},
    # Leads of a window that ended `age_minutes` ago, dialed by now, against a fixed target: fires when
    # the Wilson upper bound of the rate is below the target. The baseline is shown beside it.
    "dial_rate_low": {**_COMMON, "mute_holidays": True, "baseline": "trailing", "target": 0.98,
                      "window_minutes": 30,
                      "recover_fraction": 0.5, "age_minutes": 60, "min_sample": 200, "alpha": 1e-4,
                      "per_channel": False,
                      "baseline_windows": 4, "trailing_step_minutes": 30, "recent_days": 7,
                      "pending_s": 300, "mute": [{"days": "mon-sun", "from": "00:00", "to": "10:30"},
                                                 {"days": "mon-sun", "from": "21:00", "to": "24:00"}]},
    # Freshness per source: now - newest event ts of the source, in event time.
    "no_data": {**_COMMON, "baseline": "trailing", "source": "all", "max_age_s": 120, "pending_s": 0,
                "resolve_s": 30, "per_channel": False},
}
_NUMBERS = {  # name: (low, high) for every numeric param any kind has
    "pending_s": (0, 86_400), "resolve_s": (0, 86_400), "repeat_minutes": (1, 10_080),
    "window_minutes": (1, 1_440), "min_sample": (1, 10**9), "min_expected": (1, 10**9),
    "min_drop": (0, 1), "min_rise": (0, 1_000), "alpha": (1e-12, 0.5), "recover_fraction": (0, 1),
    "baseline_windows": (1, 48), "trailing_step_minutes": (1, 1_440), "recent_days": (1, 28),
    "target": (0, 1), "age_minutes": (0, 1_440), "max_age_s": (1, 86_400),
}
_BOOLS = ("per_channel", "mute_holidays")


class RuleError(ValueError):
    """A rule or its params that cannot be used; `detail` names the field."""

    def __init__(self, message: str, detail: object = None):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class MuteWindow:
    days: frozenset[int]  # weekday numbers, Monday 0
    start: time
    end: time | None  # None: until midnight ("24:00")

    def covers(self, local: datetime) -> bool:
        if local.weekday() not in self.days:
            return False
        t = local.timetz().replace(tzinfo=None)
        return self.start <= t and (self.end is None or t < self.end)


def parse_days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat,sun`, `mon-sun`, `*`: weekday numbers."""
    text = text.strip().lower()
    if text in ("*", "all", "daily"):
        return frozenset(range(7))
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise RuleError(f"mute days must be like mon-fri or sat,sun, got {text!r}", {"field": "mute"})
        a, b = DAYS.index(first), DAYS.index(last or first)
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    if not out:
        raise RuleError("mute days are empty", {"field": "mute"})
    return frozenset(out)


def _clock(text: object) -> time | None:
    if not isinstance(text, str) or not _HHMM.match(text):
        raise RuleError(f"mute times are HH:MM (00:00..24:00), got {text!r}", {"field": "mute"})
    if text == "24:00":
        return None
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def parse_mute(mute: object) -> list[MuteWindow]:
    if not isinstance(mute, list):
        raise RuleError("mute must be a list of {days, from, to}", {"field": "mute"})
    windows = []
    for item in mute:
        if not isinstance(item, dict) or set(item) - {"days", "from", "to"}:
            raise RuleError("each mute window is {\"days\", \"from\", \"to\"}",
                            {"field": "mute", "got": item})
        start = _clock(item.get("from", "00:00")) or time(0)
        windows.append(MuteWindow(parse_days(str(item.get("days", "mon-sun"))), start,
                                  _clock(item.get("to", "24:00"))))
    return windows


def is_muted(params: dict, moment: datetime, holiday=None) -> bool:
    """True when `moment` (any zone) falls in one of the rule's mute windows (Asia/Shanghai), or on a
    holiday when `mute_holidays` is set (`holiday(date) -> bool`: ecc.calendar.public_holiday live)."""
    local = moment.astimezone(timeutil.TZ)
    if params.get("mute_holidays") and holiday is not None and holiday(local.date()):
        return True
    return any(w.covers(local) for w in parse_mute(params.get("mute", [])))


def validate_params(kind: str, params: object, base: dict | None = None) -> dict:
    """The complete params of a rule: the kind's defaults, then `base` (the stored ones, for a PUT that
    sends only what it changes), then `params`. RuleError on anything unknown or out of range."""
    if kind not in KINDS:
        raise RuleError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", {"field": "kind"})
    if not isinstance(params, dict):
        raise RuleError("params must be an object", {"field": "params"})
    defaults = DEFAULT_PARAMS[kind]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise RuleError(f"unknown params for {kind}: {', '.join(unknown)}",
                        {"field": "params", "allowed": sorted(defaults)})
    merged = {**defaults, **(base or {}), **params}
    for name, value in merged.items():
        if name in _NUMBERS:
            low, high = _NUMBERS[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise RuleError(f"{name} must be a number between {low:g} and {high:g}, got {value!r}",
                                {"field": f"params.{name}"})
        elif name in _BOOLS and not isinstance(value, bool):
            raise RuleError(f"{name} must be true or false, got {value!r}", {"field": f"params.{name}"})
    if merged["baseline"] not in BASELINES:
        raise RuleError(f"baseline must be one of {', '.join(BASELINES)}, got {merged['baseline']!r}",
                        {"field": "params.baseline"})
    parse_mute(merged["mute"])
    if "scan_minutes" in merged:
        _scan_minutes(merged["scan_minutes"])
    if kind == "no_data" and merged["source"] not in SOURCES:
        raise RuleError(f"source must be one of {', '.join(SOURCES)}, got {merged['source']!r}",
                        {"field": "params.source"})
    return merged


def _scan_minutes(value: object) -> None:
    """The shorter windows a step rule also judges: a list of at most 6 whole minutes (1..1440); those not
    shorter than `window_minutes` are not used (detect.windows_of), so shortening the window needs no edit
    of this list."""
    if not isinstance(value, list) or len(value) > 6 or not all(
            isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 1_440 for m in value):
        raise RuleError(f"scan_minutes must be a list of at most 6 whole minutes (1..1440), got {value!r}",
                        {"field": "params.scan_minutes"})


def validate_scope(kind: str, channel: object, step: object) -> tuple[str | None, int | None]:
    if channel is not None and not (isinstance(channel, str) and re.fullmatch(r"[a-z0-9_]{1,32}", channel)):
        raise RuleError(f"channel must be a channel code ([a-z0-9_], 1..32) or null, got {channel!r}",
                        {"field": "channel"})
    if step is not None:
        if kind not in STEP_KINDS:
            raise RuleError(f"{kind} rules have no step", {"field": "step"})
        top = 10 if kind == "step_conversion_drop" else 11
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= top:
            raise RuleError(f"step must be an integer 1..{top} or null, got {step!r}", {"field": "step"})
    if kind == "no_data" and channel is not None:
        raise RuleError("no_data rules watch a source, not a channel", {"field": "channel"})
    return channel, step


def steps_of(kind: str, step: int | None) -> tuple[int | None, ...]:
    """The steps one rule watches: its own, else every step the kind applies to; (None,) for others."""
    if kind == "step_conversion_drop":
        return (step,) if step else tuple(range(1, 11))
    if kind == "reject_rate_spike":
        return (step,) if step else tuple(range(1, 12))
    return (None,)


# Defaults created on first start: (seed key, kind, channel, step, params changed from the kind's).
DEFAULT_RULES: tuple[tuple[str, str, str | None, int | None, dict], ...] = (
    ("conversion-all-steps", "step_conversion_drop", None, None, {}),
    ("reject-spike-all-steps", "reject_rate_spike", None, None, {}),
    ("lead-volume-drop", "lead_volume_drop", None, None, {}),
    ("lead-volume-spike", "lead_volume_spike", None, None, {}),
    ("dial-rate-low", "dial_rate_low", None, None, {}),
    ("no-data-all", "no_data", None, None, {"source": "all", "max_age_s": 120}),
    ("no-data-step", "no_data", None, None, {"source": "step", "max_age_s": 300}),
    ("no-data-lead", "no_data", None, None, {"source": "lead", "max_age_s": 300}),
)
