"""The alerts' settings: the `alerts:` part of the city's config file (centre/cityconfig.py).

Every field carries its unit in its name (`_s` seconds). Secrets never live in the file: the SMTP password
and the webhook's secret are read from environment variables the file names (`password_env`, `secret_env`),
so a config file can be shown, versioned and mailed around. Unknown keys are refused, so a password pasted in
by mistake is an error that names it, not a leak.

Nothing is on by default: without an `alerts:` section no e-mail is sent and no webhook posted (the outbox
takes rows only for the channels configured, so nothing piles up undelivered).
"""
from __future__ import annotations

import os
import re
from datetime import time
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from centre.alerts.model import AlertKind, Channel

_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_address(value: str) -> str:
    """A bare e-mail address (the part between < >), or ValueError naming it."""
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise ValueError(f"the name of an environment variable (letters, digits, _), got {value!r}; "
                         "the secret itself never goes in the file")
    return value


class SmtpSecurity(StrEnum):
    """How the connection to the mail server is protected."""

    NONE = "none"            # plain SMTP (a relay on the same host or a trusted network only)
    STARTTLS = "starttls"    # plain connect, then STARTTLS before anything is said (usually port 587)
    TLS = "tls"              # implicit TLS from the first byte (SMTPS, usually port 465)


class SmtpSettings(_Frozen):
    """The mail server the alerts go through."""

    enabled: bool = Field(False, description="send e-mail alerts at all")
    host: str = Field("localhost", min_length=1, description="the mail server's host name or address")
    port: int = Field(587, ge=1, le=65535, description="TCP port (25 or 587 for none/starttls, 465 for tls)")
    security: SmtpSecurity = Field(SmtpSecurity.STARTTLS, description="none, starttls or tls (implicit)")
    ca_file: Path | None = Field(None, description="PEM file of the CA that signed the server's certificate, "
                                                   "when it is not one the system trusts (a city's own CA)")
    username: str | None = Field(None, description="log in as this user (AUTH), after TLS; none: no login")
    password_env: str | None = Field(None, description="the environment variable that holds the password")
    sender: str = Field("evaluator@localhost", description="the From address")
    timeout_s: float = Field(5.0, gt=0, le=120, description="connect, TLS and each command: a dead server "
                                                            "costs at most this per attempt")

    _sender = field_validator("sender")(check_address)
    _password_env = field_validator("password_env")(_env_name)

    @model_validator(mode="after")
    def _login_needs_password(self) -> SmtpSettings:
        if self.username and not self.password_env:
            raise ValueError("password_env: a username needs the name of the environment variable that holds "
                             "its password")
        if self.username and self.security is SmtpSecurity.NONE:
            raise ValueError("security: a login (username) over plain SMTP would send the password in clear; "
                             "use starttls or tls")
        return self

    def password(self) -> str | None:
        """The password from the environment (None without a login); KeyError naming the variable if unset."""
        if not self.password_env:
            return None
        return os.environ[self.password_env]


class WebhookSigning(StrEnum):
    """How the receiver (the city's messaging robot) can tell the post is the centre's."""

    NONE = "none"
    TOKEN = "token"    # the secret itself in a header (`header`, default X-Evaluator-Token)
    HMAC = "hmac"      # HMAC-SHA256 of "<timestamp>.<body>" in `header` (default X-Evaluator-Signature)


class WebhookSettings(_Frozen):
    """A JSON POST per alert to the city's messaging robot (or any receiver)."""

    url: str | None = Field(None, description="http(s) URL to POST to; none: no webhook")
    timeout_s: float = Field(5.0, gt=0, le=120, description="connect and read, per attempt")
    signing: WebhookSigning = Field(WebhookSigning.NONE, description="none, token or hmac")
    secret_env: str | None = Field(None, description="the environment variable that holds the token or HMAC key")
    header: str | None = Field(None, description="the header the token or signature goes in (default by signing)")

    _secret_env = field_validator("secret_env")(_env_name)

    @field_validator("header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", value):
            raise ValueError(f"a header name (letters, digits, -), got {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _signing_needs_secret(self) -> WebhookSettings:
        if self.signing is not WebhookSigning.NONE and not self.secret_env:
            raise ValueError(f"secret_env: signing {self.signing.value} needs the name of the environment "
                             "variable that holds the secret")
        return self

    @property
    def enabled(self) -> bool:
        return self.url is not None

    def secret(self) -> str | None:
        """The token or HMAC key from the environment; KeyError naming the variable if unset."""
        if self.signing is WebhookSigning.NONE or not self.secret_env:
            return None
        return os.environ[self.secret_env]

    def header_name(self) -> str:
        if self.header:
            return self.header
        return "X-Evaluator-Token" if self.signing is WebhookSigning.TOKEN else "X-Evaluator-Signature"


class RetrySettings(_Frozen):
    """A failed delivery is tried again after first_backoff_s, then twice as long each time, up to
    max_backoff_s, with ±jitter_fraction so that many failures do not all come back at once."""

    max_attempts: int = Field(10, ge=1, le=100, description="attempts in all before giving up")
    first_backoff_s: float = Field(30.0, gt=0, description="wait after the first failure")
    max_backoff_s: float = Field(3600.0, gt=0, description="the longest wait between two attempts")
    jitter_fraction: float = Field(0.2, ge=0, lt=1, description="each wait varies by up to this share")

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_backoff_s < self.first_backoff_s:
            raise ValueError("max_backoff_s: must be at least first_backoff_s")
        return self


class DigestSettings(_Frozen):
    """Once a day, each unit's cases near or past their deadlines, by e-mail, and the city's to the webhook."""

    enabled: bool = Field(True, description="send the daily digest (by e-mail with smtp.enabled, by the webhook "
                                            "with webhook.url)")
    at_local: time = Field(time(8, 30), description='local time of day to send it, "HH:MM"')
    timezone: str = Field("Asia/Shanghai", description="the zone of at_local and of the digest's day")
    near_working_days: int = Field(1, ge=0, le=15, description="a deadline within this many working days is near")
    to_units: bool = Field(True, description="each unit's duty address (`evaluator centre duty set`) gets its own")
    city_emails: tuple[str, ...] = Field((), description="the city office: one digest of every unit")
    district_emails: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="district name → addresses: one digest of the district's units")
    webhook: bool = Field(True, description="post the city's digest to the webhook too (its robot's group)")

    @field_validator("at_local", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if isinstance(value, int):   # YAML 1.1 reads an unquoted 08:30 as sexagesimal minutes (510)
            return time(value // 60, value % 60) if 0 <= value < 24 * 60 else value
        if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d\d", value):
            raise ValueError(f'a local time "HH:MM", got {value!r}')
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Asia/Shanghai)") from None
        return value

    @field_validator("city_emails")
    @classmethod
    def _city(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_address(item) for item in value)

    @field_validator("district_emails")
    @classmethod
    def _districts(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {name: tuple(check_address(item) for item in items) for name, items in value.items()}


class AlertSettings(_Frozen):
    """Alerts of bad reviews, complaints and call-back requests (at once) and the daily digest, by e-mail and by
    webhook."""

    console_base_url: str = Field("", description="the console's address as people reach it, e.g. "
                                                  "https://centre.example.gov.cn: alerts link to "
                                                  "<this>/console/cases/<id> (empty: the path alone)")
    smtp: SmtpSettings = SmtpSettings()
    webhook: WebhookSettings = WebhookSettings()
    retry: RetrySettings = RetrySettings()
    digest: DigestSettings = DigestSettings()
    bad_review_email: bool = Field(True, description="e-mail each bad review to the unit's duty address")
    bad_review_webhook: bool = Field(True, description="post each bad review to the webhook")
    complaint_email: bool = Field(True, description="e-mail each complaint to the unit's duty address")
    complaint_webhook: bool = Field(True, description="post each complaint to the webhook")
    callback_email: bool = Field(True, description="e-mail each call-back request to the unit's duty address")
    callback_webhook: bool = Field(True, description="post each call-back request to the webhook")

    @field_validator("console_base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if value and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(f"an http:// or https:// address, got {value!r}")
        return value.rstrip("/")

    def sends(self, kind: AlertKind, channel: Channel) -> bool:
        """Whether an alert of `kind` (one of a case's: bad review, complaint, call-back) goes by `channel`:
        the channel on, and the kind's switch for it."""
        switches = {
            (AlertKind.BAD_REVIEW, Channel.EMAIL): self.bad_review_email,
            (AlertKind.BAD_REVIEW, Channel.WEBHOOK): self.bad_review_webhook,
            (AlertKind.COMPLAINT, Channel.EMAIL): self.complaint_email,
            (AlertKind.COMPLAINT, Channel.WEBHOOK): self.complaint_webhook,
            (AlertKind.CALLBACK, Channel.EMAIL): self.callback_email,
            (AlertKind.CALLBACK, Channel.WEBHOOK): self.callback_webhook,
        }
        if channel is Channel.EMAIL:
            return self.smtp.enabled and switches[kind, channel]
        return self.webhook.enabled and switches[kind, channel]

    def case_link(self, case_id: int) -> str:
        return f"{self.console_base_url}/console/cases/{case_id}"

    def missing_secrets(self) -> list[tuple[str, str]]:
        """(field, problem) for each secret's environment variable that is named but not set."""
        wanted = []
        if self.smtp.enabled and self.smtp.password_env:
            wanted.append(("smtp.password_env", self.smtp.password_env))
        if self.webhook.enabled and self.webhook.signing is not WebhookSigning.NONE and self.webhook.secret_env:
            wanted.append(("webhook.secret_env", self.webhook.secret_env))
        return [(field, f"the environment variable {name} is not set") for field, name in wanted
                if not os.environ.get(name)]


DEFAULT_ALERTS = AlertSettings()
