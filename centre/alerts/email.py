"""An alert by e-mail: one SMTP conversation per message, with the configured protection (none, STARTTLS,
implicit TLS), a login if configured, and a timeout on every step so a dead server costs seconds, not minutes.

The message is UTF-8 (subject and text, Chinese first, English below: centre/alerts/messages.py); its
Message-ID names the outbox row, so a mail system that sees the same alert twice (a retry after a reply was
lost) can tell it is one alert.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from centre.alerts.errors import SendFailed
from centre.alerts.settings import SmtpSecurity, SmtpSettings


def message(settings: SmtpSettings, to: str, subject: str, text: str, delivery_id: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<alert-{delivery_id}@{settings.sender.partition('@')[2]}>"
    mail["Auto-Submitted"] = "auto-generated"   # RFC 3834: no vacation replies to a robot
    mail.set_content(text, charset="utf-8")
    return mail


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """The system's trusted CAs, or the one in ca_file; the host name is always checked."""
    return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)


def send(settings: SmtpSettings, to: str, subject: str, text: str, delivery_id: int) -> None:
    """Hand the message to the server; SendFailed says why not (and whether the server itself failed)."""
    mail = message(settings, to, subject, text, delivery_id)
    try:
        password = settings.password()
    except KeyError as exc:
        raise SendFailed(f"the environment variable {exc.args[0]} (smtp.password_env) is not set",
                         whole_target=True) from None
    try:
        with _connect(settings) as smtp:
            if settings.security is SmtpSecurity.STARTTLS:
                smtp.starttls(context=tls_context(settings))
            if settings.username and password is not None:
                smtp.login(settings.username, password)
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in exc.recipients.values())
        raise SendFailed(f"the server refused {to}: {codes}", whole_target=False) from None
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        # A 5xx to MAIL FROM, DATA, AUTH or STARTTLS is the server's answer for every message alike.
        raise SendFailed(f"the server answered {exc.smtp_code} {reply}", whole_target=True) from None
    except (smtplib.SMTPException, OSError) as exc:   # refused, timed out, TLS, a dropped connection
        raise SendFailed(f"{settings.host}:{settings.port}: {_said(exc)}", whole_target=True) from None


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security is SmtpSecurity.TLS:
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout_s,
                                context=tls_context(settings))
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)


def _said(exc: BaseException) -> str:
    text = str(exc).strip() or "no detail"
    return f"{type(exc).__name__}: {text}"
