"""What the alerts page (layouts/alerts_page.py) shows: its words (zh first, en second, like
layouts/i18n.py) and pure view functions (rows of the stores in, Dash components out; no query inside)."""

from __future__ import annotations

import json

from dash import dcc, html

from ecc.alerts import messages

P = "ap"  # component id prefix of the page

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("告警值班", "On-call alerts"),
    "back": ("返回大屏", "Back to the wall"),
    "tab.alerts": ("告警", "Alerts"), "tab.silences": ("静默", "Silences"), "tab.rules": ("规则", "Rules"),
    "tab.receivers": ("通知接收方", "Receivers"), "tab.log": ("投递记录", "Delivery log"),
    "days.1": ("今天", "Today"), "days.3": ("近 3 天", "Last 3 days"), "days.7": ("近 7 天", "Last 7 days"),
    "col.state": ("状态", "State"), "col.kind": ("类型", "Kind"), "col.channel": ("渠道", "Channel"),
    "col.step": ("步骤", "Step"), "col.started": ("开始", "Started"), "col.resolved": ("恢复", "Resolved"),
    "col.observed": ("当前 / 基线", "Observed / baseline"), "col.sample": ("样本", "Sample"),
    "col.p": ("p 值", "p"), "col.ack": ("确认", "Ack"), "col.actions": ("操作", "Actions"),
    "col.matchers": ("匹配", "Matchers"), "col.ends": ("到期", "Expires"), "col.comment": ("备注", "Comment"),
    "col.by": ("创建人", "By"), "col.params": ("参数 (JSON)", "Params (JSON)"),
    "col.enabled": ("启用", "Enabled"), "col.target": ("地址 / 收件人", "URL / to"),
    "col.name": ("名称", "Name"), "col.secret": ("密钥", "Secret"), "col.receiver": ("接收方", "Receiver"),
    "col.attempt": ("次数", "Attempt"), "col.status": ("结果", "Status"), "col.at": ("时间", "At"),
    "col.error": ("错误", "Error"), "col.alert": ("告警", "Alert"), "col.lang": ("语言", "Language"),
    "state.pending": ("待定", "pending"), "state.firing": ("告警中", "firing"),
    "state.resolved": ("已恢复", "resolved"), "silenced": ("已静默", "silenced"),
    "btn.ack": ("确认", "Ack"), "btn.silence": ("静默 1 小时", "Silence 1 h"), "btn.drill": ("明细", "Drill"),
    "btn.delete": ("删除", "Delete"), "btn.save": ("保存", "Save"), "btn.add": ("添加", "Add"),
    "btn.test": ("测试", "Test"), "btn.toggle": ("启用/停用", "Enable/disable"),
    "any": ("全部", "any"), "hours": ("小时", "hours"), "set": ("已设置", "set"), "none": ("—", "—"),
    "empty": ("暂无", "None"), "no_store": ("告警存储不可用", "Alert store unavailable"),
    "no_db": ("未连接元数据库", "No metadata database"),
    "denied": ("无权限：需要 {role} 角色", "Not allowed: needs the {role} role"),
    "done.ack": ("已确认告警 {id}", "Alert {id} acknowledged"),
    "done.silence": ("已静默 {id}", "Silence {id} created"), "done.unsilence": ("已删除静默 {id}",
                                                                                "Silence {id} deleted"),
    "done.rule": ("规则 {id} 已保存", "Rule {id} saved"), "done.rule_del": ("规则 {id} 已删除",
                                                                          "Rule {id} deleted"),
    "done.receiver": ("接收方 {id} 已保存", "Receiver {id} saved"),
    "done.receiver_del": ("接收方 {id} 已删除", "Receiver {id} deleted"),
    "done.test_ok": ("接收方 {id} 测试成功", "Receiver {id}: test delivered"),
    "done.test_fail": ("接收方 {id} 测试失败：{error}", "Receiver {id}: test failed: {error}"),
    "error": ("失败：{error}", "Failed: {error}"),
    "silence.from_page": ("告警页静默 1 小时", "silenced for 1 h from the alerts page"),
}


def s(key: str, lang: str, **values: object) -> str:
    zh, en = STRINGS[key]
    return (en if lang == "en" else zh).format(**values)


# ---- views (pure: rows in, components out) ----------------------------------------------------------

def _table(head: list[str], rows: list, lang: str, cls: str) -> html.Table | html.Div:
    if not rows:
        return html.Div(s("empty", lang), className="ap-empty")
    return html.Table(className=f"ap-table {cls}", children=[
        html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)])


def _btn(label: str, kind: str, ident: object, extra: str = "") -> html.Button:
    return html.Button(label, id={"type": f"{P}-{kind}", "id": ident}, n_clicks=0,
                       className=f"ap-btn ap-btn-{kind} {extra}".strip())


def alert_rows(alerts: list[dict], lang: str, names: dict) -> html.Table | html.Div:
    rows = []
    for a in alerts:
        kind = a.get("kind", "")
        observed = messages.format_value(kind, a.get("observed"), lang)
        baseline = messages.format_value(kind, a.get("baseline"), lang)
        state = a.get("state", "")
        badge = [html.Span(s(f"state.{state}", lang) if f"state.{state}" in STRINGS else state,
                           className=f"ap-state ap-state-{state}")]
        if a.get("silenced"):
            badge.append(html.Span(s("silenced", lang), className="ap-state ap-state-silenced"))
        actions = [html.A(s("btn.drill", lang), href=a.get("link") or "#", className="ap-btn ap-link",
                          target="_blank")]
        if state != "resolved":
            if not a.get("acked_by"):
                actions.append(_btn(s("btn.ack", lang), "ack", a["id"]))
            actions.append(_btn(s("btn.silence", lang), "silence", a["id"]))
        rows.append(html.Tr(id=f"{P}-alert-{a['id']}", className=f"ap-row-{state}", children=[
            html.Td(badge), html.Td(messages.kind_name(kind, lang)),
            html.Td(messages.channel_name(a.get("channel"), lang, names)),
            html.Td(messages.step_name(a.get("step"), lang) or "—"),
            html.Td(messages.local_time(a.get("started_at"))[5:16]),
            html.Td(messages.local_time(a.get("resolved_at"))[5:16] if a.get("resolved_at") else "—"),
            html.Td(f"{observed} / {baseline}"),
            html.Td("—" if a.get("sample") is None else f"{a['sample']:,}"),
            html.Td(messages.format_p(a.get("p_value"))),
            html.Td(a.get("acked_by") or "—"), html.Td(actions, className="ap-actions"),
        ]))
    head = [s(f"col.{k}", lang) for k in ("state", "kind", "channel", "step", "started", "resolved",
                                            "observed", "sample", "p", "ack", "actions")]
    return _table(head, rows, lang, "ap-alerts")


def silence_rows(silences: list[dict], lang: str, names: dict) -> html.Table | html.Div:
    rows = []
    for x in silences:
        m = x.get("matchers", {})
        what = " · ".join(filter(None, [messages.kind_name(m["kind"], lang) if m.get("kind") else "",
                                         messages.channel_name(m["channel"], lang, names) if m.get("channel")
                                         else "", messages.step_name(m.get("step"), lang)])) or s("any", lang)
        rows.append(html.Tr([html.Td(what), html.Td(messages.local_time(x.get("ends_at"))),
                             html.Td(x.get("comment") or "—"), html.Td(x.get("created_by") or "—"),
                             html.Td(_btn(s("btn.delete", lang), "sil-del", x["id"], "ap-danger"))]))
    head = [s(f"col.{k}", lang) for k in ("matchers", "ends", "comment", "by", "actions")]
    return _table(head, rows, lang, "ap-silences")


def rule_rows(rules: list[dict], lang: str, names: dict) -> html.Table | html.Div:
    rows = []
    for r in rules:
        rows.append(html.Tr([
            html.Td(str(r["id"])), html.Td(messages.kind_name(r["kind"], lang)),
            html.Td(messages.channel_name(r.get("channel"), lang, names)),
            html.Td(messages.step_name(r.get("step"), lang) or "—"),
            html.Td(dcc.Checklist(id={"type": f"{P}-rule-enabled", "id": r["id"]}, options=[{"label": "",
                    "value": "on"}], value=["on"] if r.get("enabled") else [], className="ap-check")),
            html.Td(dcc.Textarea(id={"type": f"{P}-rule-params", "id": r["id"]}, className="ap-params",
                                 value=json.dumps(r.get("params", {}), ensure_ascii=False))),
            html.Td([_btn(s("btn.save", lang), "rule-save", r["id"]),
                     _btn(s("btn.delete", lang), "rule-del", r["id"], "ap-danger")], className="ap-actions"),
        ]))
    head = ["#"] + [s(f"col.{k}", lang) for k in ("kind", "channel", "step", "enabled", "params", "actions")]
    return _table(head, rows, lang, "ap-rules")


def receiver_rows(items: list[dict], lang: str) -> html.Table | html.Div:
    rows = [html.Tr([
        html.Td(str(r["id"])), html.Td(r["kind"]), html.Td(r.get("name") or "—"),
        html.Td(r.get("to") or r.get("url") or "—", className="ap-target"),
        html.Td(r.get("lang") or "—"), html.Td(s("set", lang) if r.get("has_secret") else "—"),
        html.Td("✓" if r.get("enabled") else "✗"),
        html.Td([_btn(s("btn.test", lang), "rcv-test", r["id"]),
                 _btn(s("btn.toggle", lang), "rcv-toggle", r["id"]),
                 _btn(s("btn.delete", lang), "rcv-del", r["id"], "ap-danger")], className="ap-actions"),
    ]) for r in items]
    head = ["#"] + [s(f"col.{k}", lang) for k in ("kind", "name", "target", "lang", "secret", "enabled",
                                                   "actions")]
    return _table(head, rows, lang, "ap-receivers")


def log_rows(items: list[dict], lang: str) -> html.Table | html.Div:
    rows = [html.Tr(className=f"ap-log-{d['status']}", children=[
        html.Td(messages.local_time(d["at"])), html.Td(str(d["alert_id"])), html.Td(str(d["receiver_id"])),
        html.Td(str(d["attempt"])), html.Td(d["status"]), html.Td(d.get("error") or "—")]) for d in items]
    head = [s(f"col.{k}", lang) for k in ("at", "alert", "receiver", "attempt", "status", "error")]
    return _table(head, rows, lang, "ap-log")
