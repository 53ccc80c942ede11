"""Every UI string of the screens, Simplified Chinese first, English second, in one table.

Names that belong to the event contract (channels, steps, asset classes) live in `ecc.contract.catalogue`;
this table holds only the words of the screens themselves.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from ecc.contract.catalogue import step_label

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

STRINGS: dict[str, tuple[str, str]] = {
    # page and header
    "app.title": ("ECC 业务指挥中心", "ECC Command Center"),
    "wall.title": ("互联网分公司 · 业务指挥中心", "Internet Branch · Business Command Center"),
    "wall.subtitle": ("实时业务作战大屏", "Real-time operations wall"),
    "header.day": ("业务日", "Business day"),
    "header.clock": ("北京时间", "Shanghai time"),
    "header.ingest": ("入库 {rate} 条/秒", "ingest {rate}/s"),
    "header.rejected": ("拒收 {rate} 条/秒", "rejected {rate}/s"),
    "fresh.delay": ("数据延迟 {seconds} 秒", "Data delay {seconds} s"),
    "fresh.unknown": ("数据延迟 —", "Data delay —"),
    "fresh.down": ("数据源异常", "Data source down"),
    "fresh.rebuilding": ("实时数据重建中", "Live data rebuilding"),
    # {age} is filled in by the browser (assets/watermark.js), not by the server
    "fresh.stale": ("数据已过期 {age} 秒 · 重连中", "Stale {age} s · reconnecting"),
    "lang.zh": ("中文", "中文"),
    "lang.en": ("EN", "EN"),
    "weekday": ("星期一,星期二,星期三,星期四,星期五,星期六,星期日", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    # KPI cards
    "kpi.leads": ("线索数", "Leads"),
    "kpi.dial_rate": ("线索拨打率", "Dial rate"),
    "kpi.opened": ("开户数", "Accounts opened"),
    "kpi.open_rate": ("开户转化率", "Open rate"),
    "kpi.first_deposits": ("首次入金户数", "First deposits"),
    "kpi.deposit_amount": ("入金金额（元）", "Deposits (CNY)"),
    "kpi.net_inflow": ("净流入（元）", "Net inflow (CNY)"),
    "hint.yesterday": ("昨日全天 {value} · 已达 {share}", "Yesterday {value} · {share} reached"),
    "hint.yesterday_none": ("昨日全天 —", "Yesterday —"),
    "hint.dialed": ("已拨打 {dialed} · 已接通 {connected}", "Dialed {dialed} · connected {connected}"),
    "hint.open_rate": ("开户数 ÷ 线索数", "Opened ÷ leads"),
    "hint.first_deposits": ("新开户入金率 {rate}", "New accounts funded {rate}"),
    "hint.deposit_amount": ("出金 {amount}", "Withdrawn {amount}"),
    "hint.net_inflow": ("入金 − 出金", "Deposits − withdrawals"),
    # panels
    "panel.funnel": ("开户漏斗 · 断点转化率", "Account-opening funnel · step conversion"),
    "panel.funnel.note": ("红色：低于近7日同时段基线 20% 以上",
                          "red: 20%+ below the same hours of the last 7 days"),
    "panel.channels": ("渠道线索", "Leads by channel"),
    "panel.trend": ("分时趋势（每分钟）", "Per-minute trend"),
    "panel.assets": ("资产分布", "Assets by class"),
    "panel.wealth": ("理财偏好 · 交易额占比", "Wealth preference by trades"),
    # figure words
    "fig.empty": ("暂无数据", "No data yet"),
    "fig.reach": ("到达人数", "Reached"),
    "fig.conversion": ("断点转化率", "Step conversion"),
    "fig.below_baseline": ("低于基线 {pct}", "{pct} below usual"),
    "fig.baseline_hover": ("今日 {today} · 基线 {baseline}", "today {today} · baseline {baseline}"),
    "fig.today": ("今日", "Today"),
    "fig.previous_day": ("昨日同时段", "Yesterday"),
    "fig.previous_week": ("上周同日", "Last week"),
    "fig.aum_province": ("资产规模", "AUM"),
    "compare.previous_day": ("较昨日", "D/D"),
    "compare.previous_week": ("较上周", "W/W"),
    "compare.previous_day.title": ("较昨日同一时刻（00:00 至今同时刻）",
                                   "vs the same time yesterday (00:00 to now)"),
    "compare.previous_week.title": ("较上周同日同一时刻", "vs the same time on the same day last week"),
    "hint.night_zero": ("非营业时间 · 夜间为 0 属正常", "Outside business hours · 0 is normal"),
    "panel.provinces": ("省份分布 · 资产规模", "Provinces · AUM"),
    "panel.tiers": ("客群与等级 · 资产规模", "AUM by tier"),
    "panel.aum_split": ("资产规模 · 省份与客群等级", "AUM · provinces, segments, levels"),
    "panel.service": ("换手率 · 理财偏好", "Turnover · wealth mix"),
    "wm.asof": ("截至 {time}", "as of {time}"),
    "wm.stale": ("已过期 {age}", "stale {age}"),
    "wm.unknown": ("—", "—"),
    "wm.s": ("秒", "s"),
    "wm.min": ("分钟", "min"),
    "wm.h": ("小时", "h"),
    "wm.source.live": ("来源：实时计数（Redis），随每条事件更新",
                       "Source: live counters (Redis), moved by every event"),
    "wm.source.context": ("来源：分析库（ClickHouse），每分钟重算",
                          "Source: analytics store (ClickHouse), recomputed each minute"),
    "wm.source.alerts": ("来源：告警列表，每 5 秒读取", "Source: the alert list, read every 5 s"),
    "wm.title_at": ("数据截至 {time}（{age}前）", "Data as of {time} ({age} ago)"),
    "turnover.of": ("今日交易额 {trades} ÷ 资产规模 {aum}", "Trades today {trades} ÷ AUM {aum}"),
    "alerts.firing": ("告警", "ALERT"),
    "alerts.ticker_none": ("暂无告警 · 各项指标正常", "No alerts · all indicators normal"),
    "alerts.unavailable": ("告警服务未接入", "Alerts not connected"),
    "alert.kind.step_conversion_drop": ("断点转化率下降", "Step conversion drop"),
    "alert.kind.lead_volume_drop": ("线索量骤降", "Lead volume drop"),
    "alert.kind.lead_volume_spike": ("线索量激增", "Lead volume spike"),
    "alert.kind.dial_rate_low": ("拨打率偏低", "Dial rate low"),
    "alert.kind.reject_rate_spike": ("驳回率激增", "Reject rate spike"),
    "alert.kind.no_data": ("数据中断", "No data"),
    "alert.state.firing": ("告警中", "firing"),
    "alert.state.pending": ("待确认", "pending"),
    "alert.state.resolved": ("已恢复", "resolved"),
    "alert.step": ("步骤 {step}", "step {step}"),
    "alert.observed": ("观测 {observed} · 基线 {baseline}", "observed {observed} · baseline {baseline}"),
    "alert.no_data": ("最新事件 {observed} 秒前 · 阈值 {baseline} 秒",
                      "newest event {observed} s ago · limit {baseline} s"),
    "alert.acked": ("已确认 {by}", "acked by {by}"),
    "alert.silenced": ("已静默", "silenced"),
    "fig.leads": ("线索", "Leads"),
    "fig.opened": ("开户", "Opened"),
    "fig.channel_side": ("拨打率 · 开户 · 开户率", "dialed · opened · rate"),
    "fig.per_minute": ("每分钟", "per minute"),
    "fig.partial": ("本分钟进行中", "minute in progress"),
    "fig.aum": ("资产规模", "AUM"),
    "fig.share": ("占比", "Share"),
    "funnel.rejects": ("驳回 {count}", "rejected {count}"),
    # money units (zh only: en shows plain numbers with commas)
    "unit.wan": ("万", ""),
    "unit.yi": ("亿", ""),
    # router
    "page.not_found": ("页面不存在", "Page not found"),
    # trading session (layouts/session.py) and business hours
    "session.night": ("夜间", "Night"),
    "session.closed": ("休市", "Market closed"),
    "session.pre_open": ("集合竞价", "Pre-open"),
    "session.trading": ("交易中", "Trading"),
    "session.lunch": ("午间休市", "Lunch break"),
    "session.off_hours": ("非营业时间", "outside business hours"),
    "session.weekend": ("周末", "weekend"),
    "session.holiday": ("休市（节假日）", "Market closed (holiday)"),
    "session.adjusted_workday": ("调休工作日", "adjusted workday"),
    "session.calendar_unknown": ("节假日日历未覆盖本年：仅按周末判断休市",
                                 "holiday calendar does not cover this year: weekends only"),
    # screens (业务分屏)
    "screen.wall": ("作战大屏", "Wall"),
    "screen.acquisition": ("获客", "Acquisition"),
    "screen.funnel": ("开户漏斗", "Funnel"),
    "screen.assets": ("资金资产", "Funding & assets"),
    "screen.service": ("客户服务", "Service"),
    "screen.alerts": ("告警", "Alerts"),
    "screen.acquisition.title": ("获客分屏 · 渠道与拨打", "Acquisition · channels and calls"),
    "screen.funnel.title": ("开户漏斗分屏 · 断点与驳回", "Funnel · breakpoints and rejects"),
    "screen.assets.title": ("资金与资产分屏", "Funding and assets"),
    "screen.service.title": ("客户服务分屏 · 换手与偏好", "Service · turnover and preferences"),
    "screen.alerts.title": ("告警分屏", "Alerts"),
    "keys.help": ("键盘：← → 切换分屏 · 1–6 直达 · K 轮播模式 · F 适配方式 · L 中/英",
                  "Keys: ← → switch screen · 1–6 jump · K kiosk rotation · F fit mode · L language"),
    # panels of the sub-screens
    "panel.alerts": ("告警", "Alerts"),
    "alerts.none": ("暂无告警", "No alerts"),
    "panel.leaderboard": ("渠道排行 · 线索 / 拨打率 / 开户率", "Channel leaderboard"),
    "panel.rejects": ("各步驳回率", "Reject rate by step"),
    "panel.money": ("资金流水", "Money flows"),
    "panel.turnover": ("换手率", "Turnover rate"),
    "hint.turnover": ("今日交易额 ÷ 资产规模", "Today's trades ÷ AUM"),
    "col.channel": ("渠道", "Channel"),
    "col.leads": ("线索", "Leads"),
    "col.dial_rate": ("拨打率", "Dial rate"),
    "col.opened": ("开户", "Opened"),
    "col.open_rate": ("开户率", "Open rate"),
    "money.deposit": ("入金", "Deposits"),
    "money.withdraw": ("出金", "Withdrawals"),
    "money.net": ("净流入", "Net inflow"),
    "money.trades": ("交易额", "Trades"),
    "product.stock": ("股票", "Stocks"),
    "product.fund": ("基金", "Funds"),
    "product.wealth": ("理财产品", "Wealth products"),
    "product.bond": ("债券", "Bonds"),
    "product.other": ("其他", "Other"),
    "fig.reject_rate": ("驳回率", "Reject rate"),
}

# Step names short enough for the wall's 11-cell strip (the catalogue's full name is the cell's tooltip).
SHORT_STEPS_EN = {
    1: "Phone verified", 2: "ID card (OCR)", 3: "Personal details", 4: "Job & tax status", 5: "Risk test",
    6: "Suitability & sign", 7: "Bank bound", 8: "Video witness", 9: "Password & cert", 10: "In review",
    11: "Account opened",
}


def short_step_label(step: int, lang: str = DEFAULT_LANG) -> str:
    """The step's name for a narrow cell: the catalogue's Chinese name, a short English one."""
    return SHORT_STEPS_EN.get(step, step_label(step, "en")) if lang == "en" else step_label(step, "zh")


def normalize_lang(value: object) -> str:
    """'en' or 'zh' from whatever a store or query string holds; anything else is the default."""
    return value if isinstance(value, str) and value in LANGS else DEFAULT_LANG


def lang_from_search(search: str | None) -> str:
    """The language of a query string such as '?lang=en'."""
    values = parse_qs((search or "").lstrip("?")).get("lang", [])
    return normalize_lang(values[-1].strip().lower() if values else None)


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The string `key` in `lang`, with `{name}` placeholders filled from `params`.

    An unknown key is returned as it is, so a missing entry shows up on the screen instead of crashing it.
    """
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if normalize_lang(lang) == "en" else pair[0]
    return text.format(**params) if params else text
