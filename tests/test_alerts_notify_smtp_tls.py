"""E-mail receivers over TLS against a real SMTP server (aiosmtpd) on 127.0.0.1: STARTTLS on the
submission port and implicit TLS (smtps), with a CA and a server certificate made here (cryptography). The
client always verifies the certificate and the name; a relay with an in-house CA is trusted through the URL's
`cafile`. The server refuses AUTH before TLS, so the password (the receiver's sealed secret) only ever
travels encrypted."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from notify_receivers import BOX, alert, engine, log_of, settings_for  # noqa: F401 (fixture)

from ecc.alerts import notify, receivers

PASSWORD = "tls-only-p4ss"


def _certificates(directory) -> tuple[str, str, str]:
    """(CA PEM path, server certificate chain PEM path, server key PEM path); the server's certificate is
    for IP 127.0.0.1 and signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ECC test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(leaf.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(ca_path), str(cert_path), str(key_path)


class TlsMailbox:
    """aiosmtpd with TLS: `mode` "starttls" (plain connection, STARTTLS required before anything, AUTH
    only over TLS) or "ssl" (TLS from the first byte). Records each message and whether it came over TLS."""

    def __init__(self, mode: str, cert: str, key: str) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[tuple[list[str], bytes, bool]] = []
        box = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            return AuthResult(success=auth_data.login == b"ecc" and auth_data.password == PASSWORD.encode())

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                over_tls = server.transport.get_extra_info("ssl_object") is not None
                box.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content,
                                     over_tls))
                return "250 OK"

        # PROTOCOL_TLS (not _SERVER): aiosmtpd's Controller checks an smtps server is up by connecting
        # through the same context as a client
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if mode == "starttls" else ssl.PROTOCOL_TLS)
        context.load_cert_chain(cert, key)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        options = {"authenticator": authenticator, "auth_required": True}
        if mode == "starttls":
            options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:  # TLS from the first byte; aiosmtpd's auth_require_tls only knows STARTTLS (it would hide AUTH)
            options.update(ssl_context=context, auth_require_tls=False)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return _certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=["starttls", "ssl"])
def tls_box(request, pki):
    _, cert, key = pki
    box = TlsMailbox(request.param, cert, key)
    yield request.param, box
    box.close()


def _url(mode: str, port: int, cafile: str | None) -> str:
    scheme, query = ("smtps", []) if mode == "ssl" else ("smtp", ["starttls=1"])
    if cafile:
        query.append(f"cafile={cafile}")
    return f"{scheme}://ecc@127.0.0.1:{port}" + ("?" + "&".join(query) if query else "")


def test_email_over_tls_verified_against_the_relays_ca(engine, tls_box, pki, tmp_path):  # noqa: F811
    mode, box = tls_box
    ca, _, _ = pki
    trusted = receivers.create_receiver(engine, {"kind": "email", "to": "oncall@example.com",
                                                 "secret": PASSWORD, "url": _url(mode, box.port, ca)}, BOX)
    # the system's CAs do not know this relay: refused, and said why
    unknown = receivers.create_receiver(engine, {"kind": "email", "to": "oncall@example.com",
                                                 "secret": PASSWORD, "url": _url(mode, box.port, None)}, BOX)
    notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(91)], "firing")
    assert notify.wait_idle(30)

    assert [d["status"] for d in log_of(engine, trusted["id"])] == ["sent"]
    [(rcpts, raw, over_tls)] = box.messages
    assert rcpts == ["oncall@example.com"] and over_tls
    mail = message_from_bytes(raw, policy=policy.default)
    assert "断点转化率下降" in mail.get_content() and "1 条告警触发" in mail["Subject"]

    [refused] = log_of(engine, unknown["id"])
    assert refused["status"] == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused["error"], refused
    assert refused["error"].startswith("SMTP TLS") and PASSWORD not in refused["error"]


def test_starttls_is_not_optional_when_the_relay_requires_it(engine, pki, tmp_path):  # noqa: F811
    _, cert, key = pki
    box = TlsMailbox("starttls", cert, key)
    try:
        plain = receivers.create_receiver(engine, {"kind": "email", "to": "oncall@example.com",
                                                   "secret": PASSWORD,
                                                   "url": f"smtp://ecc@127.0.0.1:{box.port}"}, BOX)
        notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(92)], "firing")
        assert notify.wait_idle(30)
        [row] = log_of(engine, plain["id"])
        # the relay answers 530 "Must issue a STARTTLS command first": no password went out in clear
        assert row["status"] == "failed" and row["error"].startswith("SMTP") and box.messages == []
        assert PASSWORD not in row["error"]
    finally:
        box.close()


def test_a_missing_cafile_is_a_clear_failure(engine, pki, tmp_path):  # noqa: F811
    r = receivers.create_receiver(engine, {"kind": "email", "to": "oncall@example.com",
                                           "url": "smtps://127.0.0.1:9?cafile=/nonexistent/ca.pem"}, BOX)
    notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(93)], "firing")
    assert notify.wait_idle(30)
    [row] = log_of(engine, r["id"])
    assert row["status"] == "failed" and "cannot load cafile /nonexistent/ca.pem" in row["error"]


def test_the_relays_name_is_verified_too(engine, pki, tmp_path):  # noqa: F811
    ca, cert, key = pki
    box = TlsMailbox("ssl", cert, key)
    try:  # the certificate names 127.0.0.1, not localhost: a trusted CA does not make any name good
        r = receivers.create_receiver(engine, {"kind": "email", "to": "oncall@example.com",
                                               "secret": PASSWORD,
                                               "url": f"smtps://ecc@localhost:{box.port}?cafile={ca}"}, BOX)
        notify.submit(engine, settings_for(tmp_path, notify_attempts=1), [alert(94)], "firing")
        assert notify.wait_idle(30)
        [row] = log_of(engine, r["id"])
        assert row["status"] == "failed" and "mismatch" in row["error"] and box.messages == [], row
    finally:
        box.close()
