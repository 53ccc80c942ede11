"""The on-call alerts page (/alerts, 告警值班): today's and recent alerts with ack and silence, the
silences with their expiry, and for admins the rules, the receivers and the delivery log.

It calls the same functions as the API (ecc.alerts.store for alerts, acks, silences and rules;
ecc.alerts.receivers and notify_log for receivers and deliveries) on the metadata engine the notify
blueprint put in `app.extensions` (ecc/alerts/receivers_api.py). Callbacks are split by the least role
they need, with distinct outputs, so the access layer can map each one (`CALLBACK_ROLES`); each also
checks `flask.g.identity` itself where one is set.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import current_app, g

from ecc import timeutil
from ecc.alerts import messages, notify_log, receivers
from ecc.alerts.receivers_api import EXTENSION
from ecc.contract import catalogue
from layouts.alerts_page_views import (
    P,
    alert_rows,
    log_rows,
    receiver_rows,
    rule_rows,
    s,
    silence_rows,
)
from layouts.chrome import lang_switch

try:  # the alerts' store is ecc/alerts/store.py (rules, alerts, silences); the page works without it
    from ecc.alerts import store
except ImportError:  # pragma: no cover - only while that module is missing
    store = None

log = logging.getLogger(__name__)
PATH = "alerts"
REFRESH_MS = 10_000
IDS = {name: f"{P}-{name}" for name in (
    "refresh", "days", "alerts", "silences", "op-version", "op-msg", "admin-version", "admin-msg",
    "rules", "receivers", "log", "sil-kind", "sil-channel", "sil-step", "sil-hours", "sil-comment",
    "sil-add", "rule-kind", "rule-channel", "rule-step", "rule-add", "rcv-kind", "rcv-name", "rcv-url",
    "rcv-to", "rcv-secret", "rcv-lang", "rcv-add", "tabs")}
# The least role of each callback, by its first output (docs/api.md Access): viewers read alerts and
# silences; operators ack and silence; admins edit rules and receivers and read the delivery log.
CALLBACK_ROLES = {IDS["alerts"]: "viewer", IDS["op-version"]: "operator", IDS["rules"]: "admin",
                  IDS["log"]: "admin", IDS["admin-version"]: "admin"}
_RANK = {"viewer": 0, "operator": 1, "admin": 2}


def _engine():
    ext = current_app.extensions.get(EXTENSION)
    return None if ext is None else ext["engine"]


def _settings():
    return current_app.extensions[EXTENSION]["settings"]


def _box():
    """The key that seals receivers' secrets (ecc/alerts/receivers_secrets.py); None: none configured."""
    return current_app.extensions[EXTENSION].get("box")


def _may(role: str) -> bool:
    identity = getattr(g, "identity", None)
    if identity is None:  # no access layer installed (auth off): the app decides elsewhere
        return True
    return _RANK.get(getattr(identity, "role", ""), -1) >= _RANK[role]


def _who() -> str:
    identity = getattr(g, "identity", None)
    return getattr(identity, "name", None) or "local"


# ---- layout --------------------------------------------------------------------------------------------

def _options(pairs) -> list[dict]:
    return [{"label": label, "value": value} for value, label in pairs]


def _tab(key: str, lang: str, children: list) -> dcc.Tab:
    return dcc.Tab(label=s(f"tab.{key}", lang), value=key, className="ap-tab",
                   selected_className="ap-tab-active", children=html.Div(children, className="ap-pane"))


def layout(lang: str, pathname: str, search: str, base: str) -> html.Div:
    kinds = _options((k, messages.kind_name(k, lang)) for k in messages.KIND_NAMES)
    channels = _options((c, catalogue.channel_label(c, lang)) for c in catalogue.CHANNELS)
    steps = _options((n, messages.step_name(n, lang)) for n in catalogue.STEPS)
    silence_form = html.Div(className="ap-form", children=[
        dcc.Dropdown(id=IDS["sil-kind"], options=kinds, placeholder=s("col.kind", lang)),
        dcc.Dropdown(id=IDS["sil-channel"], options=channels, placeholder=s("col.channel", lang)),
        dcc.Dropdown(id=IDS["sil-step"], options=steps, placeholder=s("col.step", lang)),
        dcc.Input(id=IDS["sil-hours"], type="number", min=0.25, max=24 * 30, step=0.25, value=2),
        html.Span(s("hours", lang)),
        dcc.Input(id=IDS["sil-comment"], type="text", placeholder=s("col.comment", lang), maxLength=2000),
        html.Button(s("btn.add", lang), id=IDS["sil-add"], n_clicks=0, className="ap-btn"),
    ])
    rule_form = html.Div(className="ap-form", children=[
        dcc.Dropdown(id=IDS["rule-kind"], options=kinds, placeholder=s("col.kind", lang)),
        dcc.Dropdown(id=IDS["rule-channel"], options=channels, placeholder=s("col.channel", lang)),
        dcc.Dropdown(id=IDS["rule-step"], options=steps, placeholder=s("col.step", lang)),
        html.Button(s("btn.add", lang), id=IDS["rule-add"], n_clicks=0, className="ap-btn"),
    ])
    receiver_form = html.Div(className="ap-form", children=[
        dcc.Dropdown(id=IDS["rcv-kind"], options=_options((k, k) for k in receivers.KINDS), value="webhook",
                     clearable=False),
        dcc.Input(id=IDS["rcv-name"], type="text", placeholder=s("col.name", lang), maxLength=64),
        dcc.Input(id=IDS["rcv-url"], type="text", placeholder="URL", className="ap-wide"),
        dcc.Input(id=IDS["rcv-to"], type="text", placeholder="to (e-mail)"),
        dcc.Input(id=IDS["rcv-secret"], type="password", placeholder=s("col.secret", lang)),
        dcc.Dropdown(id=IDS["rcv-lang"], options=_options((("zh", "中文"), ("en", "English"))),
                     placeholder=s("col.lang", lang)),
        html.Button(s("btn.add", lang), id=IDS["rcv-add"], n_clicks=0, className="ap-btn"),
    ])
    back = base + (f"?lang={lang}" if lang != "zh" else "")
    return html.Div(className=f"ap-page lang-{lang}", children=[
        dcc.Store(id=f"{P}-lang", data=lang),
        dcc.Interval(id=IDS["refresh"], interval=REFRESH_MS),
        dcc.Store(id=IDS["op-version"], data=0), dcc.Store(id=IDS["admin-version"], data=0),
        html.Header(className="ap-header", children=[
            dcc.Link(s("back", lang), href=back, className="ap-back ecc-control"),
            html.H1(s("title", lang)),
            lang_switch(lang, pathname, search, P),
        ]),
        html.Div(className="ap-msgs", children=[html.Div(id=IDS["op-msg"], className="ap-msg"),
                                                 html.Div(id=IDS["admin-msg"], className="ap-msg")]),
        dcc.Tabs(id=IDS["tabs"], value="alerts", className="ap-tabs", children=[
            _tab("alerts", lang, [
                dcc.RadioItems(id=IDS["days"], value=1, inline=True, className="ap-days",
                               options=_options((d, s(f"days.{d}", lang)) for d in (1, 3, 7))),
                html.Div(id=IDS["alerts"])]),
            _tab("silences", lang, [silence_form, html.Div(id=IDS["silences"])]),
            _tab("rules", lang, [rule_form, html.Div(id=IDS["rules"])]),
            _tab("receivers", lang, [receiver_form, html.Div(id=IDS["receivers"])]),
            _tab("log", lang, [html.Div(id=IDS["log"])]),
        ]),
    ])


# ---- data and actions (the API's functions) ------------------------------------------------------------

def recent_alerts(engine, days: int) -> list[dict]:
    """Alerts open now or of the last `days` Shanghai days, newest first."""
    today = timeutil.today()
    seen: dict[object, dict] = {}
    for back in range(max(1, days)):
        for a in store.list_alerts(engine, day=today - timedelta(days=back)):
            seen.setdefault(a["id"], a)
    return sorted(seen.values(), key=lambda a: (a.get("started_at") or "", a["id"]), reverse=True)


def silence_alert(engine, alert_id: int, by: str, lang: str, hours: float = 1.0) -> dict:
    """Silence what this alert is (its kind, channel and step) for `hours`."""
    alert = next((a for a in recent_alerts(engine, 7) if a["id"] == alert_id), None)
    if alert is None:
        raise ValueError(f"no alert {alert_id}")
    matchers = {k: alert[k] for k in ("kind", "channel", "step") if alert.get(k) is not None}
    ends = datetime.now(UTC) + timedelta(hours=hours)
    return store.create_silence(engine, {"matchers": matchers, "ends_at": ends.isoformat(),
                                         "comment": s("silence.from_page", lang)}, by)


def _clicked() -> bool:
    """A real click, not a button that just appeared (its n_clicks is 0)."""
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _state_of(kind: str, ident: object) -> object:
    for group in ctx.states_list:
        for item in group if isinstance(group, list) else [group]:
            if item.get("id") == {"type": f"{P}-{kind}", "id": ident}:
                return item.get("value")
    return None


def register_callbacks(app: Dash, _snapshot_provider=None) -> None:
    @app.callback(Output(IDS["alerts"], "children"), Output(IDS["silences"], "children"),
                  Input(IDS["refresh"], "n_intervals"), Input(IDS["days"], "value"),
                  Input(IDS["op-version"], "data"), Input(IDS["admin-version"], "data"),
                  State(f"{P}-lang", "data"))
    def show_alerts(_n, days, _op, _admin, lang):
        engine = _engine()
        if engine is None or store is None:
            note = html.Div(s("no_db" if engine is None else "no_store", lang), className="ap-empty")
            return note, note
        names = _names(engine)
        return (alert_rows(recent_alerts(engine, int(days or 1)), lang, names),
                silence_rows(store.list_silences(engine), lang, names))

    # Rules and receivers are drawn when their tab opens or after an add or delete, never on the timer:
    # a redraw would wipe params an admin is typing. The delivery log follows the timer.
    @app.callback(Output(IDS["rules"], "children"), Output(IDS["receivers"], "children"),
                  Input(IDS["admin-version"], "data"), Input(IDS["tabs"], "value"),
                  State(f"{P}-lang", "data"))
    def show_admin(_version, tab, lang):
        engine = _engine()
        if not _may("admin"):
            return (html.Div(s("denied", lang, role="admin"), className="ap-empty"),) * 2
        if engine is None:
            return (html.Div(s("no_db", lang), className="ap-empty"),) * 2
        if tab not in ("rules", "receivers"):
            return no_update, no_update
        rules = rule_rows(store.list_rules(engine), lang, _names(engine)) if store is not None else \
            html.Div(s("no_store", lang), className="ap-empty")
        return rules, receiver_rows([receivers.public(r) for r in receivers.list_receivers(engine)], lang)

    @app.callback(Output(IDS["log"], "children"), Input(IDS["refresh"], "n_intervals"),
                  Input(IDS["admin-version"], "data"), Input(IDS["tabs"], "value"),
                  State(f"{P}-lang", "data"))
    def show_log(_n, _version, tab, lang):
        engine = _engine()
        if not _may("admin"):
            return html.Div(s("denied", lang, role="admin"), className="ap-empty")
        if engine is None or tab != "log":
            return no_update
        return log_rows(notify_log.list_deliveries(engine, limit=200), lang)

    @app.callback(Output(IDS["op-version"], "data"), Output(IDS["op-msg"], "children"),
                  Input({"type": f"{P}-ack", "id": ALL}, "n_clicks"),
                  Input({"type": f"{P}-silence", "id": ALL}, "n_clicks"),
                  Input({"type": f"{P}-sil-del", "id": ALL}, "n_clicks"),
                  Input(IDS["sil-add"], "n_clicks"),
                  State(IDS["sil-kind"], "value"), State(IDS["sil-channel"], "value"),
                  State(IDS["sil-step"], "value"), State(IDS["sil-hours"], "value"),
                  State(IDS["sil-comment"], "value"), State(IDS["op-version"], "data"),
                  State(f"{P}-lang", "data"), prevent_initial_call=True)
    def operate(_acks, _silences, _deletes, _add, kind, channel, step, hours, comment, version, lang):
        if not _clicked():
            return no_update, no_update
        if not _may("operator"):
            return no_update, s("denied", lang, role="operator")
        engine, trigger = _engine(), ctx.triggered_id
        try:
            if store is None or engine is None:
                raise RuntimeError(s("no_store", lang))
            kind_of = trigger.get("type") if isinstance(trigger, dict) else trigger
            if kind_of == f"{P}-ack":
                store.ack(engine, trigger["id"], _who(), None)
                msg = s("done.ack", lang, id=trigger["id"])
            elif kind_of == f"{P}-silence":
                msg = s("done.silence", lang, id=silence_alert(engine, trigger["id"], _who(), lang)["id"])
            elif kind_of == f"{P}-sil-del":
                store.delete_silence(engine, trigger["id"])
                msg = s("done.unsilence", lang, id=trigger["id"])
            else:
                matchers = {k: v for k, v in (("kind", kind), ("channel", channel), ("step", step)) if v}
                ends = datetime.now(UTC) + timedelta(hours=float(hours or 1))
                made = store.create_silence(engine, {"matchers": matchers, "ends_at": ends.isoformat(),
                                                     "comment": comment or ""}, _who())
                msg = s("done.silence", lang, id=made["id"])
        except (ValueError, RuntimeError) as exc:  # the stores' validation errors are ValueErrors
            return no_update, s("error", lang, error=exc)
        log.info("alerts page: %s by %s", msg, _who())
        return (version or 0) + 1, msg

    @app.callback(Output(IDS["admin-version"], "data"), Output(IDS["admin-msg"], "children"),
                  Output(IDS["rcv-secret"], "value"),  # a secret typed in is cleared once stored
                  Input({"type": f"{P}-rule-save", "id": ALL}, "n_clicks"),
                  Input({"type": f"{P}-rule-del", "id": ALL}, "n_clicks"),
                  Input(IDS["rule-add"], "n_clicks"),
                  Input({"type": f"{P}-rcv-test", "id": ALL}, "n_clicks"),
                  Input({"type": f"{P}-rcv-toggle", "id": ALL}, "n_clicks"),
                  Input({"type": f"{P}-rcv-del", "id": ALL}, "n_clicks"),
                  Input(IDS["rcv-add"], "n_clicks"),
                  State({"type": f"{P}-rule-params", "id": ALL}, "value"),
                  State({"type": f"{P}-rule-enabled", "id": ALL}, "value"),
                  State(IDS["rule-kind"], "value"), State(IDS["rule-channel"], "value"),
                  State(IDS["rule-step"], "value"),
                  *(State(IDS[f"rcv-{name}"], "value") for name in ("kind", "name", "url", "to", "secret",
                                                                     "lang")),
                  State(IDS["admin-version"], "data"), State(f"{P}-lang", "data"), prevent_initial_call=True)
    def administer(*args):
        (rule_kind, rule_channel, rule_step, rcv_kind, rcv_name, rcv_url, rcv_to, rcv_secret, rcv_lang,
         version, lang) = args[9:]
        if not _clicked():
            return no_update, no_update, no_update
        if not _may("admin"):
            return no_update, s("denied", lang, role="admin"), no_update
        engine, trigger = _engine(), ctx.triggered_id
        kind_of = trigger.get("type") if isinstance(trigger, dict) else trigger
        try:
            if engine is None:
                raise RuntimeError(s("no_db", lang))
            if kind_of in (f"{P}-rule-save", f"{P}-rule-del", IDS["rule-add"]) and store is None:
                raise RuntimeError(s("no_store", lang))
            if kind_of == f"{P}-rule-save":
                params = json.loads(_state_of("rule-params", trigger["id"]) or "{}")
                enabled = bool(_state_of("rule-enabled", trigger["id"]))
                store.update_rule(engine, trigger["id"], {"params": params, "enabled": enabled})
                return no_update, s("done.rule", lang, id=trigger["id"]), no_update  # no redraw
            elif kind_of == f"{P}-rule-del":
                store.delete_rule(engine, trigger["id"])
                msg = s("done.rule_del", lang, id=trigger["id"])
            elif kind_of == IDS["rule-add"]:
                scope = (("kind", rule_kind), ("channel", rule_channel), ("step", rule_step))
                body = {k: v for k, v in scope if v}
                msg = s("done.rule", lang, id=store.create_rule(engine, body)["id"])
            elif kind_of == f"{P}-rcv-test":
                from ecc.alerts.notify import send_probe

                result = send_probe(engine, _settings(), trigger["id"])
                msg = s("done.test_ok" if result["ok"] else "done.test_fail", lang, id=trigger["id"],
                        error=result["error"])
                # a test changes no receiver: no redraw of the table (a redraw under the user's next click
                # swallowed it: the toggle after a test was lost once in CI)
                return no_update, msg, no_update
            elif kind_of == f"{P}-rcv-toggle":
                current = receivers.get_receiver(engine, trigger["id"])
                if current is None:
                    raise ValueError(f"no receiver {trigger['id']}")
                receivers.update_receiver(engine, trigger["id"], {"enabled": not current.enabled}, _box())
                msg = s("done.receiver", lang, id=trigger["id"])
            elif kind_of == f"{P}-rcv-del":
                receivers.delete_receiver(engine, trigger["id"])
                msg = s("done.receiver_del", lang, id=trigger["id"])
            else:
                body = {"kind": rcv_kind, "name": rcv_name or "", "lang": rcv_lang or ""}
                body.update({"to": rcv_to} if rcv_kind == "email" else {})
                body.update({"url": rcv_url} if rcv_url else {})
                body.update({"secret": rcv_secret} if rcv_secret else {})
                msg = s("done.receiver", lang, id=receivers.create_receiver(engine, body, _box())["id"])
                return (version or 0) + 1, msg, ""
        except (ValueError, RuntimeError) as exc:  # validation errors (RuleError, ReceiverError, bad JSON)
            return no_update, s("error", lang, error=exc), no_update
        log.info("alerts page: %s by %s", msg, _who())
        return (version or 0) + 1, msg, no_update


def _names(engine) -> dict:
    from ecc import metadata

    return metadata.channel_names(engine)
