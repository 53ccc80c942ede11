"""The words of a notification: a group of alerts rendered for people, in Chinese (default) or English.

Pure functions: alert dicts in the API shape (docs/api.md, `GET /api/v1/alerts`) in, a `Message` out. The
notifiers (ecc/alerts/notify_formats.py) only lay the same message out in each vendor's format, so every
receiver says the same thing: what broke (kind, channel, step), observed vs baseline, the sample size, the
p-value, when it started (Asia/Shanghai) and the drill-down link made absolute with `public_url`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ecc.contract import catalogue
from ecc.timeutil import TZ

LANGS = ("zh", "en")
TRANSITIONS = ("firing", "resolved", "repeat")
# Kinds whose observed/baseline are proportions (shown as percentages); the volume kinds are counts and
# no_data is seconds without events.
RATIO_KINDS = frozenset({"step_conversion_drop", "dial_rate_low", "reject_rate_spike"})
SECONDS_KINDS = frozenset({"no_data"})

KIND_NAMES = {
    "step_conversion_drop": ("断点转化率下降", "step conversion drop"),
    "lead_volume_drop": ("线索量骤降", "lead volume drop"),
    "lead_volume_spike": ("线索量激增", "lead volume spike"),
    "dial_rate_low": ("拨打率低于目标", "dial rate below target"),
    "reject_rate_spike": ("驳回率飙升", "reject rate spike"),
    "no_data": ("数据中断", "no data"),
}

# What a no_data alert watched (its rule's params.source): every event, or one event type.
SOURCE_NAMES = {
    "all": ("全部事件", "all events"),
    "lead": ("线索事件", "lead events"),
    "step": ("开户步骤事件", "account-opening step events"),
    "call": ("外呼事件", "call events"),
    "deposit": ("入金事件", "deposit events"),
    "asset": ("资产事件", "asset events"),
    "trade": ("交易事件", "trade events"),
}

_WORDS: dict[str, tuple[str, str]] = {
    "title.firing": ("【ECC 告警】{n} 条告警触发", "[ECC] {n} alert(s) firing"),
    "title.resolved": ("【ECC 恢复】{n} 条告警已恢复", "[ECC] {n} alert(s) resolved"),
    "title.repeat": ("【ECC 告警】{n} 条告警仍未恢复", "[ECC] {n} alert(s) still firing"),
    "state.firing": ("告警中", "FIRING"),
    "state.resolved": ("已恢复", "RESOLVED"),
    "state.repeat": ("仍在告警", "STILL FIRING"),
    "all_channels": ("全部渠道", "all channels"),
    "channel": ("渠道", "Channel"),
    "step": ("步骤", "Step"),
    "observed": ("当前值", "Observed"),
    "baseline": ("基线", "Baseline"),
    "change": ("变化", "change"),
    "sample": ("样本量", "Sample"),
    "p_value": ("p 值", "p-value"),
    "started": ("开始时间", "Started"),
    "resolved_at": ("恢复时间", "Resolved"),
    "acked_by": ("确认人", "Acknowledged by"),
    "link": ("查看明细", "Drill down"),
    "more": ("……另有 {n} 条告警未列出", "… {n} more alert(s) not listed"),
    "seconds": ("{v} 秒", "{v} s"),
    "test.title": ("【ECC】通知测试", "[ECC] notification test"),
    "test.text": ("这是一条测试消息：该接收方配置正确。", "This is a test message: this receiver works."),
}


def word(key: str, lang: str, **values: object) -> str:
    zh, en = _WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def kind_name(kind: str, lang: str) -> str:
    zh, en = KIND_NAMES.get(kind, (kind, kind))
    return en if lang == "en" else zh


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Section:
    """One alert of the group, ready to lay out: a headline, labelled fields and the absolute link."""

    alert_id: object
    headline: str
    fields: tuple[Field, ...]
    link: str


@dataclass(frozen=True)
class Message:
    transition: str
    lang: str
    title: str
    sections: tuple[Section, ...]
    alerts: tuple[dict, ...]  # the alerts in the API shape, links made absolute (the JSON webhook's body)
    group_id: str = ""  # one id per group, the same in every receiver's copy and every retry

    def plain_text(self, limit: int | None = None) -> str:
        """Title, then one block per alert; with `limit` (characters) the blocks that do not fit are
        counted in a closing line instead of cut in the middle."""
        blocks = []
        for s in self.sections:
            lines = [s.headline, *(f"  {f.label}: {f.value}" for f in s.fields)]
            if s.link:
                lines.append(f"  {word('link', self.lang)}: {s.link}")
            blocks.append("\n".join(lines))
        return fit_blocks(self.title, blocks, self.lang, limit, sep="\n\n")


def fit_blocks(title: str, blocks: Sequence[str], lang: str, limit: int | None, sep: str) -> str:
    """`title` and as many whole blocks as fit in `limit` UTF-8 bytes, then how many were left out
    (vendors refuse over-long messages: WeCom markdown 4096 bytes, DingTalk ~20000)."""
    out = title
    for i, block in enumerate(blocks):
        candidate = out + sep + block
        rest = len(blocks) - i - 1
        tail = (sep + word("more", lang, n=rest)) if rest else ""
        if limit is not None and len((candidate + tail).encode()) > limit and i > 0:
            return out + sep + word("more", lang, n=len(blocks) - i)
        out = candidate
    return out


def absolute_link(link: str | None, public_url: str) -> str:
    """The drill-down link a phone can open: relative links are joined to the configured public URL."""
    if not link:
        return ""
    if link.startswith(("http://", "https://")) or not public_url:
        return link
    return public_url.rstrip("/") + "/" + link.lstrip("/")


def local_time(value: object) -> str:
    """An instant (ISO-8601 text or datetime) as Shanghai wall-clock time, "YYYY-MM-DD HH:MM:SS"."""
    if value is None or value == "":
        return "—"
    moment = value if isinstance(value, datetime) else _parse(str(value))
    if moment is None:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_value(kind: str, value: object, lang: str) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if kind in RATIO_KINDS:
        return f"{number * 100:.1f}%"
    if kind in SECONDS_KINDS:
        return word("seconds", lang, v=f"{number:,.0f}")
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


def relative_change(observed: object, baseline: object) -> str:
    try:
        o, b = float(observed), float(baseline)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if b == 0:
        return ""
    return f"{(o - b) / b * 100:+.1f}%"


def format_p(p: object) -> str:
    try:
        value = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def channel_name(code: str | None, lang: str, names: Mapping[str, tuple[str, str]]) -> str:
    if not code:
        return word("all_channels", lang)
    if code in names:
        zh, en = names[code]
        return en if lang == "en" else zh
    return catalogue.channel_label(code, lang)


def source_name(source: str, lang: str) -> str:
    zh, en = SOURCE_NAMES.get(source, (source, source))
    return en if lang == "en" else zh


def step_name(step: object, lang: str) -> str:
    try:
        number = int(step)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if number not in catalogue.STEP_NAMES:
        return str(number)
    return f"{number} · {catalogue.step_label(number, lang)}"


def section(alert: Mapping, lang: str, names: Mapping[str, tuple[str, str]], public_url: str,
            transition: str) -> Section:
    kind = str(alert.get("kind", ""))
    if kind == "no_data" and alert.get("source"):  # no channel: the source that went quiet
        where = source_name(str(alert["source"]), lang)
    else:
        where = channel_name(alert.get("channel"), lang, names)
    step = step_name(alert.get("step"), lang)
    state = "resolved" if transition == "resolved" else transition
    headline = f"[{word('state.' + state, lang)}] {kind_name(kind, lang)} · {where}"
    if step:
        headline += f" · {step}"
    observed = format_value(kind, alert.get("observed"), lang)
    baseline = format_value(kind, alert.get("baseline"), lang)
    change = relative_change(alert.get("observed"), alert.get("baseline"))
    comparison = f"{observed} / {word('baseline', lang)} {baseline}" + (
        f" ({word('change', lang)} {change})" if change else "")
    fields = [Field(word("observed", lang), comparison)]
    if alert.get("sample") is not None:
        sample = format_value("lead_volume_drop", alert.get("sample"), lang)  # a count
        fields.append(Field(word("sample", lang), sample))
    if alert.get("p_value") is not None:
        fields.append(Field(word("p_value", lang), format_p(alert.get("p_value"))))
    fields.append(Field(word("started", lang), local_time(alert.get("started_at"))))
    if transition == "resolved" and alert.get("resolved_at"):
        fields.append(Field(word("resolved_at", lang), local_time(alert.get("resolved_at"))))
    if alert.get("acked_by"):
        fields.append(Field(word("acked_by", lang), str(alert["acked_by"])))
    return Section(alert_id=alert.get("id"), headline=headline, fields=tuple(fields),
                   link=absolute_link(alert.get("link"), public_url))


def render(group: Sequence[Mapping], transition: str, *, lang: str = "zh", public_url: str = "",
           channel_names: Mapping[str, tuple[str, str]] | None = None, group_id: str = "") -> Message:
    """The message of one group of alerts that changed state together."""
    if transition not in TRANSITIONS:
        raise ValueError(f"transition must be one of {', '.join(TRANSITIONS)}, got {transition!r}")
    lang = lang if lang in LANGS else "zh"
    names = channel_names or {}
    sections = tuple(section(a, lang, names, public_url, transition) for a in group)
    alerts = tuple({**a, "link": absolute_link(a.get("link"), public_url)} for a in group)
    return Message(transition=transition, lang=lang, title=word(f"title.{transition}", lang, n=len(group)),
                   sections=sections, alerts=alerts, group_id=group_id)


def probe_message(lang: str = "zh") -> Message:
    """What `POST /api/v1/receivers/{id}/test` sends: no alert, one line saying the receiver works."""
    lang = lang if lang in LANGS else "zh"
    return Message(transition="test", lang=lang, title=word("test.title", lang),
                   sections=(Section(alert_id=None, headline=word("test.text", lang), fields=(), link=""),),
                   alerts=())
