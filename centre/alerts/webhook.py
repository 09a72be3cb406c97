"""An alert by webhook: one JSON POST, with a timeout, signed so the city's robot can tell it is the centre's.

Signing (centre/alerts/settings.py WebhookSigning):
- token: the shared secret itself in a header (default `X-Evaluator-Token`), for receivers that only compare.
- hmac: `X-Evaluator-Timestamp: <unix seconds>` and `X-Evaluator-Signature: sha256=<hex>`, the HMAC-SHA256
  with the secret of "<timestamp>.<body bytes>"; the receiver recomputes it and refuses an old timestamp.
Every post also says `X-Evaluator-Delivery: <outbox row id>`: the same id twice is one alert sent again.

An error's text never holds the URL's query string, where robots keep their key (…/send?key=…).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from centre.alerts.errors import SendFailed
from centre.alerts.settings import WebhookSettings, WebhookSigning

TIMESTAMP_HEADER = "X-Evaluator-Timestamp"
DELIVERY_HEADER = "X-Evaluator-Delivery"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def headers(settings: WebhookSettings, body: bytes, now: datetime, delivery_id: int) -> dict[str, str]:
    found = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "evaluator-centre",
             DELIVERY_HEADER: str(delivery_id)}
    try:
        secret = settings.secret()
    except KeyError as exc:
        raise SendFailed(f"the environment variable {exc.args[0]} (webhook.secret_env) is not set",
                         whole_target=True) from None
    if secret is None:
        return found
    if settings.signing is WebhookSigning.TOKEN:
        found[settings.header_name()] = secret
    else:
        timestamp = str(int(now.timestamp()))
        found[TIMESTAMP_HEADER] = timestamp
        found[settings.header_name()] = signature(secret, timestamp, body)
    return found


def post(settings: WebhookSettings, url: str, payload: dict[str, Any], now: datetime, delivery_id: int) -> None:
    """POST `payload` to `url`; any 2xx answer delivers it, anything else is SendFailed."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    sent_headers = headers(settings, body, now, delivery_id)
    try:
        answer = requests.post(url, data=body, headers=sent_headers, timeout=settings.timeout_s,
                               allow_redirects=False)
    except requests.RequestException as exc:
        raise SendFailed(f"{shown(url)}: {type(exc).__name__}: {redacted(str(exc), url)}", whole_target=True) from None
    if 200 <= answer.status_code < 300:
        return
    said = redacted(" ".join(answer.text.split())[:200], url)
    # 4xx but 408/429 is about this post; 5xx, 408 and 429 are the receiver's state, the same for every post.
    whole = answer.status_code >= 500 or answer.status_code in (408, 429)
    raise SendFailed(f"{shown(url)}: HTTP {answer.status_code} {said}".rstrip(), whole_target=whole)


def shown(url: str) -> str:
    """The URL without its query or fragment (where a robot's key is): what the outbox and the console show."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]   # never a user:password@ either
    return f"{parts.scheme}://{host}{parts.path}" + ("?…" if parts.query else "")


def redacted(text: str, url: str) -> str:
    query = urlsplit(url).query
    return text.replace(query, "…") if query else text
