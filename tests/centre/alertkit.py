"""What the alert tests share: a real SMTP server (aiosmtpd) on 127.0.0.1, plain, STARTTLS or implicit TLS, with
a login if asked; a real HTTP receiver (http.server in a thread) that answers what it is told; a CA and a server
certificate made with `cryptography`; a city config file written from a dict.

Both receivers hand what arrives to a queue.Queue, so a test waits for an arrival with a timeout, never sleeps.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import queue
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ARRIVAL_TIMEOUT_S = 5.0


# -- SMTP -------------------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the server received: each message with its envelope."""

    arrived: queue.Queue[tuple[str, list[str], EmailMessage]] = field(default_factory=queue.Queue)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:   # aiosmtpd's handler hook
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        self.arrived.put((envelope.mail_from, list(envelope.rcpt_tos), mail))   # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def next(self, timeout_s: float = ARRIVAL_TIMEOUT_S) -> tuple[str, list[str], EmailMessage]:
        return self.arrived.get(timeout=timeout_s)


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
        return AuthResult(success=ok, handled=False)
    return check


@contextmanager
def smtp_server(port: int, *, security: str = "none", certs: Certs | None = None,
                login: tuple[str, str] | None = None) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1:`port`: plain, "starttls" (required before MAIL) or "tls" (implicit)."""
    box = Mailbox()
    kwargs: dict[str, Any] = {}
    if security != "none":
        assert certs is not None
        context = certs.server_context()
        kwargs = {"ssl_context": context} if security == "tls" else {"tls_context": context, "require_starttls": True}
    if login is not None:
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls: over implicit TLS it would hide AUTH.
        kwargs.update(authenticator=_authenticator(*login), auth_require_tls=security == "starttls")
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# -- HTTP -------------------------------------------------------------------------------------------------------


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The webhook's receiver: records each POST, answers `status` (changeable while it runs)."""

    url: str
    posted: queue.Queue[Posted]
    server: ThreadingHTTPServer
    status: list[int]

    def next(self, timeout_s: float = ARRIVAL_TIMEOUT_S) -> Posted:
        return self.posted.get(timeout=timeout_s)


@contextmanager
def http_receiver(status: int = 200) -> Iterator[Receiver]:
    posted: queue.Queue[Posted] = queue.Queue()
    answer = [status]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            posted.put(Posted(self.path, {key.lower(): value for key, value in self.headers.items()}, body))
            self.send_response(answer[0])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", posted, server, answer)
    finally:
        server.shutdown()
        server.server_close()


# -- certificates ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca_file: Path          # what the client trusts (alerts.smtp.ca_file)
    cert_file: Path        # the server's certificate, for 127.0.0.1
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certs(folder: Path) -> Certs:
    """A CA of the test's own and a server certificate it signed for 127.0.0.1 (IP and name)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evaluator test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    certs = Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    certs.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return certs


# -- the config file ---------------------------------------------------------------------------------------------


def write_config(path: Path, alerts: dict[str, Any], cases: dict[str, Any] | None = None) -> Path:
    raw: dict[str, Any] = {"alerts": alerts}
    if cases:
        raw["cases"] = cases
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def alerts_config(smtp_port: int | None, webhook_url: str | None, **extra: Any) -> dict[str, Any]:
    """An `alerts:` section: plain SMTP on 127.0.0.1:`smtp_port` (None: no e-mail), the webhook, quick retries."""
    found: dict[str, Any] = {
        "console_base_url": "https://centre.test",
        "retry": {"max_attempts": 5, "first_backoff_s": 0.5, "max_backoff_s": 1.0, "jitter_fraction": 0.0},
        "digest": {"enabled": False},
    }
    if smtp_port is not None:
        found["smtp"] = {"enabled": True, "host": "127.0.0.1", "port": smtp_port, "security": "none",
                         "sender": "pingjia@centre.test", "timeout_s": 2}
    if webhook_url is not None:
        found["webhook"] = {"url": webhook_url, "timeout_s": 2}
    for key, value in extra.items():
        found[key] = {**found.get(key, {}), **value} if isinstance(value, dict) else value
    return found
