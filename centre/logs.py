"""The centre's log lines: uvicorn's text as before (`serve --log-format text`), or one JSON object a line
(`--log-format json`) for a log shipper: the server's own lines, each answered batch and uvicorn's access log.

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message` and the record's fields: what a
caller passed as `extra` (an ingest's `device_id`, `ratings`, `accepted`, `rejected`, `latency_ms`, …), and
for an access line `client`, `method`, `path`, `status`.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
CENTRE_LOGGER = "centre"

# What every LogRecord carries; anything else on a record came from `extra` and becomes a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "color_message", "taskName"}
_ACCESS_ARGS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a message's own newlines are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            line.update(zip(_ACCESS_ARGS, record.args, strict=True))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def uvicorn_log_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """The `log_config` for `uvicorn.run`: uvicorn's own loggers and the centre's, in the format chosen."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    level = level.upper()
    if log_format == "json":
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            # One stream for all: the access log too goes to stderr, where the server's other lines go.
            "handlers": {name: {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json"}
                         for name in ("default", "access")},
            "loggers": _loggers(level),
        }
    from uvicorn.config import LOGGING_CONFIG  # uvicorn's text, unchanged, plus the centre's logger

    config: dict[str, Any] = json.loads(json.dumps(LOGGING_CONFIG))
    config["loggers"] = {**config["loggers"], **_loggers(level)}
    return config


def _loggers(level: str) -> dict[str, Any]:
    return {
        "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
        "uvicorn.error": {"level": level},
        "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        CENTRE_LOGGER: {"handlers": ["default"], "level": level, "propagate": False},
    }
