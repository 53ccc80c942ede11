"""The drill-down's filter: parsed from and written back to the URL query string (docs/drill.md).

The URL is the only place a drill-down view keeps its state, so any view can be shared as a link and the
browser's Back button returns to the previous filter. Parameter names are the API's where they mean the
same thing (`channel`, `province`, `from`, `to`, `step`, `window_hours`, `idle_hours`, `metric`,
`interval`): an alert's link `/drill?channel=douyin&step=8&from=…&to=…` (ecc/alerts/store.py) opens the
drill-down on exactly that channel, step and time.

Parsing is forgiving: a bad value falls back to its default and is reported in `problems`, so a mangled
link still opens a page that says what it ignored. Pure functions only; the clock is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from ecc.contract.catalogue import OPENED_STEP, STEPS
from ecc.timeutil import TZ, day_start, parse_instant

PERIODS = ("today", "yesterday", "7d", "custom")
COMPARES = ("previous_day", "previous_week", "none")
COMPARE_SHIFT = {"previous_day": timedelta(days=1), "previous_week": timedelta(days=7)}
INTERVALS = ("5m", "1h", "1d")
SERIES_METRICS = ("leads", "dialed_leads", "opened", "first_deposits", "deposit_amount", "net_inflow",
                  "trade_amount", "calls", *(f"reach_{k}" for k in STEPS))
# The views, each its own path under /drill ("" is the overview).
VIEWS = ("overview", "channels", "funnel", "cohort", "callback", "money", "series")
VIEW_PATHS = {view: "" if view == "overview" else view for view in VIEWS}

DEFAULT_COMPARE = "previous_day"
DEFAULT_WINDOW_HOURS = 72  # the API's default conversion window (GET /funnel)
DEFAULT_IDLE_HOURS = 2.0  # the contract's default for the call-back list
MAX_WINDOW_HOURS = 24 * 90
MAX_IDLE_HOURS = 24.0 * 90
MAX_DAYS = 92  # a custom period longer than this is cut (the API refuses huge series anyway)
MAX_VALUES = 20  # repeated channel/province values kept
_CHANNEL = re.compile(r"[a-z0-9_]{1,32}")


# A parameter the link got wrong and the page ignored: (what, its details), worded in the page's language.
Problem = tuple[str, dict]


@dataclass(frozen=True)
class DrillFilter:
    """What a drill-down view shows. `start`/`end` are set only for a custom period (end None: up to now)."""

    period: str = "today"
    start: datetime | None = None
    end: datetime | None = None
    channels: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    step: int | None = None
    compare: str = DEFAULT_COMPARE
    window_hours: int = DEFAULT_WINDOW_HOURS
    idle_hours: float = DEFAULT_IDLE_HOURS
    metric: str = "leads"
    interval: str | None = None  # None: chosen from the period's length (`series_interval`)
    lang: str = "zh"
    problems: tuple[Problem, ...] = field(default=(), compare=False)  # worded by drill_i18n.problem_text

    @property
    def channel(self) -> str | None:
        return self.channels[0] if self.channels else None

    @property
    def province(self) -> str | None:
        return self.provinces[0] if self.provinces else None


@dataclass(frozen=True)
class Period:
    """[start, end) in Asia/Shanghai; `open_end` when it reaches the present (end is the clock)."""

    start: datetime
    end: datetime
    open_end: bool

    @property
    def days(self) -> list[datetime]:
        """The Shanghai calendar days the period touches, as day starts, oldest first."""
        first = day_start(self.start.astimezone(TZ).date())
        out, day = [], first
        while day < self.end and len(out) < MAX_DAYS:
            out.append(day)
            day = day_start((day + timedelta(days=1, hours=3)).date())  # DST-proof next midnight
        return out


def _one(params: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    return values[-1].strip() if values else None


def _number(raw: str | None, name: str, default, low, high, kind, problems: list[Problem]):
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        problems.append(("bad.number", {"name": name, "value": raw}))
        return default
    if not low <= value <= high:  # also refuses NaN
        problems.append(("bad.range", {"name": name, "value": raw, "low": low, "high": high}))
        return default
    return value


def _instant(raw: str | None, name: str, problems: list[Problem]) -> datetime | None:
    if not raw:
        return None
    try:
        return parse_instant(raw, name).astimezone(TZ)
    except ValueError:
        problems.append(("bad.instant", {"name": name, "value": raw}))
        return None


def parse(search: str | None) -> DrillFilter:
    """The filter of a query string ("?channel=douyin&step=8&from=…"); unknown parameters are ignored."""
    params = parse_qsl((search or "").lstrip("?"), keep_blank_values=False)
    problems: list[Problem] = []
    start = _instant(_one(params, "from"), "from", problems)
    end = _instant(_one(params, "to"), "to", problems)
    if start is not None and end is not None and end <= start:
        problems.append(("bad.order", {}))
        end = None
    period = _one(params, "period")
    if start is not None:
        period = "custom"  # an explicit start is a custom period whatever `period` says
    else:
        if period is not None and period not in PERIODS:
            problems.append(("bad.choice", {"name": "period", "value": period,
                                            "allowed": ", ".join(PERIODS)}))
        elif period == "custom":
            problems.append(("bad.custom", {}))
        if period not in PERIODS or period == "custom":
            period = "today"
        end = None  # a named period ignores a lone `to`
    channels = []
    for code in dict.fromkeys(v.strip() for k, v in params if k == "channel" and v.strip()):
        if _CHANNEL.fullmatch(code):
            channels.append(code)
        else:
            problems.append(("bad.channel", {"value": code}))
    provinces = list(dict.fromkeys(v.strip()[:32] for k, v in params if k == "province" and v.strip()))
    step = _number(_one(params, "step"), "step", None, 1, OPENED_STEP, int, problems)
    compare = _one(params, "compare") or DEFAULT_COMPARE
    if compare not in COMPARES:
        problems.append(("bad.choice", {"name": "compare", "value": compare, "allowed": ", ".join(COMPARES)}))
        compare = DEFAULT_COMPARE
    metric = _one(params, "metric") or "leads"
    if metric not in SERIES_METRICS:
        problems.append(("bad.metric", {"value": metric}))
        metric = "leads"
    interval = _one(params, "interval") or None
    if interval is not None and interval not in INTERVALS:
        problems.append(("bad.choice", {"name": "interval", "value": interval,
                                        "allowed": ", ".join(INTERVALS)}))
        interval = None
    lang = _one(params, "lang")
    return DrillFilter(
        period=period, start=start, end=end,
        channels=tuple(channels[:MAX_VALUES]), provinces=tuple(provinces[:MAX_VALUES]), step=step,
        compare=compare,
        window_hours=_number(_one(params, "window_hours"), "window_hours", DEFAULT_WINDOW_HOURS, 1,
                             MAX_WINDOW_HOURS, int, problems),
        idle_hours=_number(_one(params, "idle_hours"), "idle_hours", DEFAULT_IDLE_HOURS, 0.0, MAX_IDLE_HOURS,
                           float, problems),
        metric=metric, interval=interval, lang="en" if lang == "en" else "zh", problems=tuple(problems),
    )


def iso(moment: datetime) -> str:
    """An instant as the URL carries it: Shanghai time with its offset, whole seconds when it has none."""
    local = moment.astimezone(TZ)
    return local.isoformat(timespec="seconds" if local.microsecond == 0 else "milliseconds")


def _number_text(value: float) -> str:
    return f"{value:g}"


def query_pairs(f: DrillFilter) -> list[tuple[str, str]]:
    """The filter as query parameters in a fixed order, defaults left out (short, stable links)."""
    pairs: list[tuple[str, str]] = []
    if f.period == "custom" and f.start is not None:
        pairs.append(("from", iso(f.start)))
        if f.end is not None:
            pairs.append(("to", iso(f.end)))
    elif f.period != "today":
        pairs.append(("period", f.period))
    pairs += [("channel", c) for c in f.channels]
    pairs += [("province", p) for p in f.provinces]
    if f.step is not None:
        pairs.append(("step", str(f.step)))
    if f.compare != DEFAULT_COMPARE:
        pairs.append(("compare", f.compare))
    if f.window_hours != DEFAULT_WINDOW_HOURS:
        pairs.append(("window_hours", str(f.window_hours)))
    if f.idle_hours != DEFAULT_IDLE_HOURS:
        pairs.append(("idle_hours", _number_text(f.idle_hours)))
    if f.metric != "leads":
        pairs.append(("metric", f.metric))
    if f.interval is not None:
        pairs.append(("interval", f.interval))
    if f.lang != "zh":
        pairs.append(("lang", f.lang))
    return pairs


def to_search(f: DrillFilter) -> str:
    """"?…" (or "" for the defaults): parse(to_search(f)) == f."""
    query = urlencode(query_pairs(f))
    return f"?{query}" if query else ""


def with_changes(f: DrillFilter, **changes) -> DrillFilter:
    """The filter with some fields changed; choosing a named period drops a custom start and end."""
    if changes.get("period") in ("today", "yesterday", "7d"):
        changes.setdefault("start", None)
        changes.setdefault("end", None)
    return replace(f, problems=(), **changes)


def resolve(f: DrillFilter, now: datetime) -> Period:
    """The period the filter means at `now` (Asia/Shanghai days)."""
    now = now.astimezone(TZ)
    today = day_start(now.date())
    if f.period == "yesterday":
        return Period(day_start((today - timedelta(hours=12)).date()), today, False)
    if f.period == "7d":
        return Period(day_start((today - timedelta(days=6, hours=-3)).date()), now, True)
    if f.period == "custom" and f.start is not None:
        if f.end is None or f.end >= now:
            return Period(f.start, max(now, f.start + timedelta(seconds=1)), True)
        return Period(f.start, f.end, False)
    return Period(today, now, True)


def compare_period(f: DrillFilter, period: Period) -> Period | None:
    """The same span one day or one week earlier (同比/环比: "today so far" against the same time
    yesterday); None when the filter compares with nothing."""
    shift = COMPARE_SHIFT.get(f.compare)
    if shift is None:
        return None
    return Period(period.start - shift, period.end - shift, False)


def api_params(f: DrillFilter, period: Period | None, *, today_is_default: bool = True,
               **extra: object) -> list[tuple[str, str]]:
    """Query parameters of an /api/v1 request for this filter and period.

    "Today so far" is sent without `from`/`to`, exactly as a bare API call, so the page and the API share
    one cached answer (ecc/web/api.py: cache_key) and show the same numbers.
    """
    pairs: list[tuple[str, str]] = []
    if period is not None and not (today_is_default and f.period == "today" and period.open_end):
        pairs.append(("from", iso(period.start)))
        if not period.open_end:  # a period up to now leaves `to` to the API's clock (one cache key)
            pairs.append(("to", iso(period.end)))
    pairs += [("channel", c) for c in f.channels]
    pairs += [("province", p) for p in f.provinces]
    pairs += [(k, str(v)) for k, v in extra.items() if v is not None]
    return pairs


def series_interval(f: DrillFilter, period: Period) -> str:
    """The filter's interval, else hourly up to two days and daily beyond."""
    if f.interval is not None:
        return f.interval
    return "1h" if period.end - period.start <= timedelta(days=2) else "1d"


def drill_href(base: str, view: str, f: DrillFilter) -> str:
    """The address of `view` under the app's base path ("/" or "/prefix/") with the filter."""
    path = VIEW_PATHS.get(view, "")
    return f"{base.rstrip('/')}/drill{'/' + path if path else ''}{to_search(f)}"
