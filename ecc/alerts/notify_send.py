"""The thin adapters that carry a notification out: one HTTP POST (urllib) or one SMTP session (smtplib).

Errors become `DeliveryError` with a message that names no secret: the robots' URLs carry their access
tokens in the query string, so neither the URL nor the request ever reaches a log line.
"""

from __future__ import annotations

import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, unquote, urlsplit

from ecc.alerts.messages import Message
from ecc.alerts.notify_formats import DeliveryError, Email, HttpNotifier, Target, notifier, recipients
from ecc.contract import pii

MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: str  # "none" | "starttls" | "ssl"
    user: str = ""
    password: str = ""
    cafile: str = ""  # trust this CA (PEM) instead of the system's: a relay with an in-house certificate

    @classmethod
    def parse(cls, url: str, password: str = "") -> SmtpServer:
        """`smtp://[user[:password]@]host[:port][?starttls=1][&cafile=/path/ca.pem]` or `smtps://…`
        (implicit TLS, port 465). The server's certificate and name are always verified."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise DeliveryError("SMTP server must be smtp://host[:port] or smtps://host[:port]")
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes", "on")
        tls = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
        try:
            port = parts.port or (465 if tls == "ssl" else 587 if tls == "starttls" else 25)
        except ValueError:
            raise DeliveryError("SMTP server URL has an invalid port") from None
        return cls(host=parts.hostname, port=port, tls=tls, user=unquote(parts.username or ""),
                   password=password or unquote(parts.password or ""), cafile=query.get("cafile", [""])[0])

    def tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.cafile or None)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a file that is not PEM
            raise DeliveryError(f"SMTP TLS: cannot load cafile {self.cafile}: {_reason(exc)}") from None


def post(request, timeout: float) -> tuple[int, bytes]:
    """POST the request; (status, first bytes of the answer). Unreachable is a DeliveryError."""
    req = urllib.request.Request(request.url, data=request.body, headers=request.headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(MAX_ANSWER_BYTES)
    except urllib.error.URLError as exc:
        raise DeliveryError(f"unreachable: {_reason(exc.reason)}") from None
    except TimeoutError:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"cannot send: {_reason(exc)}") from None


def _reason(exc: object) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return pii.mask_text(type(exc).__name__ if not str(exc) else str(exc))[:200]


def send_mail(server: SmtpServer, sender: str, target: Target, message: Message, timeout: float) -> None:
    to = recipients(target.to)
    if not to:
        raise DeliveryError("e-mail receiver has no recipient")
    mail = Email().build(target, message, sender)
    try:
        context = server.tls_context() if server.tls != "none" else None
        if server.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with smtp:
            if server.tls == "starttls":
                smtp.starttls(context=context)
            if server.user:
                smtp.login(server.user, server.password)
            refused = smtp.send_message(mail, from_addr=sender, to_addrs=to)
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {_reason(exc)}") from None
    except ssl.SSLError as exc:  # e.g. a certificate not signed by a trusted CA, or for another name
        raise DeliveryError(f"SMTP TLS: {_reason(exc)}") from None
    except OSError as exc:
        raise DeliveryError(f"SMTP server unreachable: {_reason(exc)}") from None
    if refused:
        raise DeliveryError(f"SMTP refused {len(refused)} of {len(to)} recipient(s)")


def deliver(target: Target, message: Message, now: datetime, *, timeout: float, smtp_url: str = "",
            smtp_from: str = "") -> None:
    """One attempt at one receiver: returns when the receiver took the message, else DeliveryError."""
    kind = notifier(target.kind)
    if isinstance(kind, HttpNotifier):
        if not target.url:
            raise DeliveryError(f"{target.kind} receiver has no url")
        request = kind.build(target, message, now)
        status, answer = post(request, timeout)
        kind.judge(status, answer)
        return
    # e-mail: the receiver's own server (url, secret = password) or the installation's (ECC_SMTP_URL)
    url = target.url or smtp_url
    if not url:
        raise DeliveryError("no SMTP server: set ECC_SMTP_URL or the receiver's url")
    server = SmtpServer.parse(url, target.secret if target.url else "")
    send_mail(server, smtp_from or "ecc@localhost", target, message, timeout)
