"""The drill-down pages' own words, Simplified Chinese first, English second (like layouts/i18n.py).

Kept apart from layouts/i18n.py (the wall's table): the two evolve separately. Contract names (channels,
steps, asset classes, segments) come from ecc.contract.catalogue; metric names from here.
"""

from __future__ import annotations

from ecc.contract.catalogue import PROVINCE_NAMES_EN, channel_label
from ecc.olap.analytics import UNKNOWN
from layouts.i18n import normalize_lang

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("业务下钻分析", "Drill-down"),
    "back.wall": ("← 作战大屏", "← Wall"),
    "refresh": ("刷新", "Refresh"),
    "as_of": ("数据截至 {time}", "As of {time}"),
    "auto_refresh": ("每 {s} 秒自动更新", "updates every {s} s"),
    "period.label": ("时间", "Period"),
    "period.today": ("今日", "Today"),
    "period.yesterday": ("昨日", "Yesterday"),
    "period.7d": ("近7天", "Last 7 days"),
    "period.custom": ("自定义", "Custom"),
    "period.range": ("{start} 至 {end}", "{start} to {end}"),
    "period.now": ("现在", "now"),
    "compare.label": ("对比", "Compare to"),
    "compare.previous_day": ("前一日同期", "Previous day"),
    "compare.previous_week": ("上周同期", "Previous week"),
    "compare.none": ("不对比", "None"),
    "channel.label": ("渠道", "Channel"),
    "channel.all": ("全部渠道", "All channels"),
    "province.label": ("省份", "Province"),
    "province.all": ("全部省份", "All provinces"),
    "step.label": ("步骤", "Step"),
    "step.all": ("全部步骤", "All steps"),
    "window.label": ("转化窗口（小时）", "Conversion window (hours)"),
    "idle.label": ("停滞至少（小时）", "Idle at least (hours)"),
    "metric.label": ("指标", "Metric"),
    "interval.label": ("粒度", "Interval"),
    "interval.5m": ("5分钟", "5 min"),
    "interval.1h": ("小时", "Hourly"),
    "interval.1d": ("天", "Daily"),
    "problems": ("链接中以下参数已忽略：{text}", "Ignored in the link: {text}"),
    "bad.number": ("{name}={value!r} 不是数字", "{name}={value!r} is not a number"),
    "bad.range": ("{name}={value!r} 不在 {low}..{high} 之内", "{name}={value!r} is outside {low}..{high}"),
    "bad.instant": ("{name}={value!r} 不是 ISO-8601 时间", "{name}={value!r} is not an ISO-8601 timestamp"),
    "bad.order": ("结束时间须晚于开始时间", "to must be after from"),
    "bad.choice": ("{name}={value!r} 不是 {allowed} 之一", "{name}={value!r} is not one of {allowed}"),
    "bad.custom": ("period=custom 需要 from（可带 to）", "period=custom needs from (and optionally to)"),
    "bad.channel": ("channel={value!r} 不是渠道代码", "channel={value!r} is not a channel code"),
    "bad.metric": ("metric={value!r} 不是可查询的指标", "metric={value!r} is not a series metric"),
    "view.overview": ("总览", "Overview"),
    "view.channels": ("渠道拆分", "Channels"),
    "view.funnel": ("渠道×步骤×日", "Channel × step × day"),
    "view.cohort": ("批次漏斗", "Cohort funnel"),
    "view.callback": ("回访名单", "Call-back list"),
    "view.money": ("入金与资产", "Deposits & assets"),
    "view.series": ("趋势对比", "Trend"),
    "error.api": ("数据读取失败：{error}", "Could not read the data: {error}"),
    "error.forbidden": ("回访名单需要“运营”及以上角色。", "The call-back list needs the operator role."),
    "empty": ("暂无数据", "No data"),
    "period.future": ("所选时段尚未开始：暂无数据", "This period has not begun yet: no data"),
    "delta.vs": ("对比 {value}", "vs {value}"),
    "delta.none": ("无对比", "no comparison"),
    "freshness": ("数据延迟 {seconds} 秒", "Data delay {seconds} s"),
    # metrics (docs/metrics.md names)
    "m.leads": ("线索数", "Leads"),
    "m.dialed_leads": ("已拨打线索", "Dialed leads"),
    "m.dial_rate": ("线索拨打率", "Dial rate"),
    "m.connected_leads": ("已接通线索", "Connected leads"),
    "m.opened": ("开户数", "Accounts opened"),
    "m.open_rate": ("开户转化率", "Open rate"),
    "m.first_deposits": ("首次入金户数", "First deposits"),
    "m.deposit_amount": ("入金金额", "Deposit amount"),
    "m.net_inflow": ("净流入", "Net inflow"),
    "m.deposit_rate": ("入金率", "Deposit rate"),
    "m.aum": ("资产规模", "AUM"),
    "m.turnover_rate": ("换手率", "Turnover rate"),
    "m.trade_amount": ("交易金额", "Trade amount"),
    "m.calls": ("外呼次数", "Calls"),
    "m.reach": ("到达人数", "Reached"),
    "m.reach_k": ("第{k}步到达", "Reached step {k}"),
    "m.step_conversion": ("断点转化率", "Step conversion"),
    "m.rejects": ("驳回", "Rejected"),
    "m.reject_rate": ("驳回率", "Reject rate"),
    "col.channel": ("渠道", "Channel"),
    "col.code": ("代码", "Code"),
    "channel.unattributed": ("未归属渠道", "Unattributed"),
    "col.step": ("步骤", "Step"),
    "col.day": ("日期", "Day"),
    "col.lead_id": ("线索编号", "Lead"),
    "col.phone_masked": ("手机号（脱敏）", "Phone (masked)"),
    "col.province": ("省份", "Province"),
    "col.furthest_step": ("停留步骤", "Stopped at step"),
    "col.last_step_at": ("最后操作时间", "Last step at"),
    "col.idle_hours": ("停滞小时", "Idle hours"),
    "overview.funnel": ("开户漏斗（到达人数与断点转化率）", "Funnel (reached and step conversion)"),
    "overview.rejects": ("各步骤驳回", "Rejections by step"),
    "channels.title": ("渠道拆分（点击表头的箭头排序）", "Channels (sort with a header's arrows)"),
    "channels.export": ("导出 CSV", "Export CSV"),
    "funnel.by_channel": ("渠道 × 步骤：到达人数（颜色为断点转化率）",
                          "Channel × step: reached (colour: step conversion)"),
    "funnel.by_day": ("日 × 步骤：到达人数", "Day × step: reached"),
    "funnel.days_cut": ("仅显示最近 {n} 天", "Only the last {n} days are shown"),
    "cohort.title": ("批次漏斗：期间内首次提交手机号的线索，在 {hours} 小时内依次完成各步",
                     "Cohort: leads whose step 1 is in the period, completing each step in order within "
                     "{hours} h"),
    "cohort.cohort": ("批次人数", "Cohort"),
    "cohort.overall": ("累计转化率", "Overall conversion"),
    "cohort.ttc": ("开户用时（第1步 → 开户）", "Time to convert (step 1 → opened)"),
    "cohort.ttc_count": ("{count} 位线索完成开户", "{count} leads opened an account"),
    "cohort.ttc_note": ("用时 = 首个开户（第11步）时间 − 首个第1步时间；分布与分位数均来自 API /funnel",
                        "Time = first step 11 − first step 1; the distribution and quantiles are the API's "
                        "(/funnel)"),
    "cohort.ttc_hist": ("开户用时分布（人数）", "Time to convert: leads per span"),
    "cohort.ttc_quantiles": ("分位数与均值", "Quantiles and mean"),
    "cohort.ttc_open": ("超过转化窗口（链条在之后的第1步重新开始）",
                        "past the window (the chain restarted at a later step 1)"),
    "unit.min": ("分钟", "min"), "unit.h": ("小时", "h"), "unit.d": ("天", "d"),
    "callback.title": ("停在「{step}」的流失线索（停滞 ≥ {hours} 小时）：{count} 人",
                       "Dropped off at step {step} (idle ≥ {hours} h): {count} leads"),
    "callback.export": ("导出回访名单 CSV", "Export call-back CSV"),
    "callback.pick_step": ("请选择步骤 1–10", "Choose a step 1–10"),
    "callback.limit": ("页面最多显示 {n} 条，CSV 含全部", "At most {n} rows shown; the CSV holds them all"),
    "money.kpis": ("入金", "Deposits"),
    "money.by_class": ("资产类别", "By asset class"),
    "money.by_level": ("客户等级", "By level"),
    "money.by_segment": ("客群", "By segment"),
    "money.by_province": ("省份", "By province"),
    "money.by_channel": ("渠道", "By channel"),
    "money.at": ("资产时点 {time}", "Assets at {time}"),
    "money.wealth": ("理财偏好（交易金额占比）", "Wealth preference (share of trade amount)"),
    "series.current": ("本期", "This period"),
    "series.previous_day": ("前一日", "Previous day"),
    "series.previous_week": ("上周同期", "Previous week"),
    "series.partial": ("进行中", "in progress"),
    "unknown": ("未知", "unknown"),
}

PROVINCES = PROVINCE_NAMES_EN  # the drill-down's province filter lists them all


def channel_name(code: str, lang: str, given: str | None = None) -> str:
    """A channel's name (`given`: the API's, else the catalogue's). `UNKNOWN` is the API's group of money
    no known lead brought (accounts whose opening lead is not stored), and is named so."""
    if code == UNKNOWN:
        return dt("channel.unattributed", lang)
    return given or channel_label(code, lang)


def province_label(name: str, lang: str) -> str:
    english = PROVINCES.get(name)
    return f"{name} {english}" if english and normalize_lang(lang) == "en" else name


def dt(key: str, lang: str = "zh", **params: object) -> str:
    """The drill-down string `key` in `lang`; an unknown key is shown as it is (never a crash)."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if normalize_lang(lang) == "en" else pair[0]
    return text.format(**params) if params else text
