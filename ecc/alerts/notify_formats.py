"""Notifiers: one small class per receiver kind that lays a `Message` out in that vendor's format.

Pure: a receiver (`Target`), a message and the current time in; the HTTP request (or e-mail) out; and the
vendor's answer judged (the robots answer HTTP 200 with an error code in the body when they refuse).
Sending is ecc/alerts/notify_send.py's. A notifier registers itself by its `kind` (`__init_subclass__`).

Formats and signatures as the vendors document them:
- webhook: ECC's own JSON (`source`, `transition`, `title`, `text`, `alerts` in the API shape); with a
  secret, `X-ECC-Timestamp` and `X-ECC-Signature: sha256=HMAC-SHA256(secret, "<timestamp>.<body>")` hex.
- wecom (企业微信群机器人): `{"msgtype": "markdown", "markdown": {"content": ...}}`, at most 4096 bytes;
  answer `{"errcode": 0}`.
- dingtalk (钉钉自定义机器人): `{"msgtype": "markdown", "markdown": {"title", "text"}}`; with a signing
  secret (加签) the URL gets `timestamp` (ms) and `sign` = urlencode(base64(HMAC-SHA256(key=secret,
  msg="<timestamp>\\n<secret>"))); answer `{"errcode": 0}`.
- feishu (飞书自定义机器人): `{"msg_type": "post", "content": {"post": {"zh_cn": {...}}}}`; with a
  signature secret (签名校验) the body gets `timestamp` (s) and `sign` = base64(HMAC-SHA256(key=
  "<timestamp>\\n<secret>", msg="")); answer `{"code": 0}`.
- email: a plain-text UTF-8 message (sent over SMTP by notify_send).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ecc.alerts.messages import Message, fit_blocks, word

KINDS = ("webhook", "wecom", "dingtalk", "feishu", "email")
WECOM_LIMIT = 4096  # bytes of markdown content
DINGTALK_LIMIT = 18000  # bytes; DingTalk refuses messages over 20000
FEISHU_SECTIONS = 30  # a post body stays well under Feishu's 20 KB request limit


class DeliveryError(Exception):
    """A receiver refused or could not be reached. The message is safe to log: no secret, no URL token."""


@dataclass(frozen=True)
class Target:
    """What a notifier needs of a receiver, its secret included (in memory only, never logged)."""

    id: int
    kind: str
    url: str = ""
    to: str = ""
    secret: str = ""
    lang: str = "zh"
    name: str = ""


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def hmac_sha256(key: str | bytes, msg: str | bytes) -> bytes:
    k = key.encode() if isinstance(key, str) else key
    m = msg.encode() if isinstance(msg, str) else msg
    return hmac.new(k, m, hashlib.sha256).digest()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签, before URL encoding: base64(HMAC-SHA256(key=secret, "<ts>\\n<secret>"))."""
    return base64.b64encode(hmac_sha256(secret, f"{timestamp_ms}\n{secret}")).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's 签名校验: base64(HMAC-SHA256(key="<ts>\\n<secret>", msg=b"")): the key is the string."""
    return base64.b64encode(hmac_sha256(f"{timestamp_s}\n{secret}", b"")).decode()


def webhook_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    signed = f"{timestamp_s}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def _json(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False, default=str).encode()


def _answer(body: bytes) -> dict:
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        raise DeliveryError(f"answer is not JSON: {body[:120]!r}") from None
    return answer if isinstance(answer, dict) else {}


def markdown_blocks(message: Message, quote: str, emphasise=lambda s: s) -> list[str]:
    blocks = []
    for s in message.sections:
        lines = [f"**{s.headline}**"]
        for i, f in enumerate(s.fields):
            lines.append(f"{quote}{f.label}: {emphasise(f.value) if i == 0 else f.value}")
        if s.link:
            lines.append(f"{quote}[{word('link', message.lang)}]({s.link})")
        blocks.append("\n".join(lines))
    return blocks


class Notifier:
    kind: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[Notifier]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Notifier.registry[cls.kind] = cls


class HttpNotifier(Notifier):
    def build(self, target: Target, message: Message, now: datetime) -> HttpRequest:
        raise NotImplementedError

    def judge(self, status: int, body: bytes) -> None:
        """Raise DeliveryError unless the answer means delivered."""
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")


class Webhook(HttpNotifier):
    kind = "webhook"

    def build(self, target: Target, message: Message, now: datetime) -> HttpRequest:
        body = _json({"source": "ecc", "version": 1, "group_id": message.group_id,
                      "transition": message.transition, "lang": message.lang,
                      "title": message.title, "text": message.plain_text(), "alerts": list(message.alerts),
                      "sent_at": now.isoformat(timespec="seconds")})
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if target.secret:
            ts = int(now.timestamp())
            headers["X-ECC-Timestamp"] = str(ts)
            headers["X-ECC-Signature"] = webhook_signature(target.secret, ts, body)
        return HttpRequest(target.url, body, headers)


class WeCom(HttpNotifier):
    kind = "wecom"

    def build(self, target: Target, message: Message, now: datetime) -> HttpRequest:
        blocks = markdown_blocks(message, "> ", lambda v: f'<font color="warning">{v}</font>')
        content = fit_blocks(f"## {message.title}", blocks, message.lang, WECOM_LIMIT, sep="\n\n")
        return HttpRequest(target.url, _json({"msgtype": "markdown", "markdown": {"content": content}}),
                           {"Content-Type": "application/json; charset=utf-8"})

    def judge(self, status: int, body: bytes) -> None:
        super().judge(status, body)
        answer = _answer(body)
        if answer.get("errcode", 0) != 0:
            raise DeliveryError(f"wecom errcode {answer.get('errcode')}: {answer.get('errmsg', '')}"[:300])


class DingTalk(HttpNotifier):
    kind = "dingtalk"

    def build(self, target: Target, message: Message, now: datetime) -> HttpRequest:
        blocks = markdown_blocks(message, "- ")
        text = fit_blocks(f"### {message.title}", blocks, message.lang, DINGTALK_LIMIT, sep="\n\n")
        url = target.url
        if target.secret:
            ts = int(now.timestamp() * 1000)
            url = with_query(url, timestamp=str(ts), sign=dingtalk_sign(target.secret, ts))
        body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": text}}
        return HttpRequest(url, _json(body), {"Content-Type": "application/json; charset=utf-8"})

    def judge(self, status: int, body: bytes) -> None:
        super().judge(status, body)
        answer = _answer(body)
        if answer.get("errcode", 0) != 0:
            raise DeliveryError(f"dingtalk errcode {answer.get('errcode')}: {answer.get('errmsg', '')}"[:300])


class Feishu(HttpNotifier):
    kind = "feishu"

    def build(self, target: Target, message: Message, now: datetime) -> HttpRequest:
        rows: list[list[dict]] = []
        sections = message.sections[:FEISHU_SECTIONS]
        for s in sections:
            rows.append([{"tag": "text", "text": s.headline}])
            rows.extend([{"tag": "text", "text": f"    {f.label}: {f.value}"}] for f in s.fields)
            if s.link:
                rows.append([{"tag": "a", "text": word("link", message.lang), "href": s.link}])
        if len(message.sections) > len(sections):
            rows.append([{"tag": "text", "text": word("more", message.lang,
                                                      n=len(message.sections) - len(sections))}])
        locale = "en_us" if message.lang == "en" else "zh_cn"
        body: dict = {"msg_type": "post",
                      "content": {"post": {locale: {"title": message.title, "content": rows}}}}
        if target.secret:
            ts = int(now.timestamp())
            body = {"timestamp": str(ts), "sign": feishu_sign(target.secret, ts), **body}
        return HttpRequest(target.url, _json(body), {"Content-Type": "application/json; charset=utf-8"})

    def judge(self, status: int, body: bytes) -> None:
        super().judge(status, body)
        answer = _answer(body)
        code = answer.get("code", answer.get("StatusCode", 0))
        if code != 0:
            why = answer.get("msg", answer.get("StatusMessage", ""))
            raise DeliveryError(f"feishu code {code}: {why}"[:300])


class Email(Notifier):
    kind = "email"

    def build(self, target: Target, message: Message, sender: str) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = sender
        mail["To"] = ", ".join(recipients(target.to))
        mail.set_content(message.plain_text())
        return mail


def recipients(to: str) -> list[str]:
    return [a.strip() for a in to.replace(";", ",").split(",") if a.strip()]


def notifier(kind: str) -> Notifier:
    try:
        return Notifier.registry[kind]()
    except KeyError:
        raise DeliveryError(f"unknown receiver kind {kind!r}") from None
