"""The city's config file: `evaluator centre serve --config centre.yaml` (deploy/centre.example.yaml).

Sections, each a frozen settings model owned by its package: `cases:` (centre/cases/settings.py: deadlines,
who calls back, evidence), `alerts:` (centre/alerts/settings.py: SMTP, webhook, retries, the digest) and
`public:` (centre/public/settings.py: the citizen pages). Every field has a default, so a centre without a
file (or with an empty one) runs the provincial rules with alerts off. A bad file never starts a centre:
`load` raises `CityConfigError`, each line of which names the file and the dotted field
("centre.yaml: alerts.smtp.port: …"), and the CLI prints it and exits 2.

Who reads it: `serve` loads it once and `install`s it in the process (and, with --workers N, every worker loads
the same file again from EVALUATOR_CENTRE_CONFIG: centre/serving.py). `current()` is the installed config, the
defaults when none was; the app also keeps it as `app.state.city`. Ingest's case opening and the alerts' queue
read `current()`: they run inside ingest's transaction and take no settings argument.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from centre.alerts.settings import AlertSettings
from centre.cases.settings import CaseSettings
from centre.errors import BadInput
from centre.integrity.settings import IntegritySettings
from centre.province.settings import ProvinceSettings
from centre.public.settings import PublicSettings

ENV_CONFIG = "EVALUATOR_CENTRE_CONFIG"   # the file's path, for the workers of `serve --workers N`


class CityConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cases: CaseSettings = CaseSettings()
    alerts: AlertSettings = AlertSettings()
    public: PublicSettings = PublicSettings()   # the citizen pages (centre/public/settings.py)
    province: ProvinceSettings = ProvinceSettings()   # the report to the province (centre/province/settings.py)
    integrity: IntegritySettings = IntegritySettings()   # the manipulation signals' tests (centre/integrity)


DEFAULT = CityConfig()


class CityConfigError(BadInput):
    """A config file that cannot be used: one line per problem, each naming the file and the field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {field}: {message}" if field else f"{source}: {message}"
                                   for field, message in problems))


def load(path: str | os.PathLike[str]) -> CityConfig:
    """The validated config of the YAML file at `path`; CityConfigError naming file and field otherwise.

    The secrets' environment variables the file names (`password_env`, `secret_env`) must be set: a centre
    that would fail every delivery for want of a password says so at its start, not at the first alert."""
    source = str(path)
    raw = _read(Path(path), source)
    try:
        config = CityConfig.model_validate(raw)
    except ValidationError as exc:
        raise CityConfigError(source, [_describe(error) for error in exc.errors()]) from None
    missing = [(f"alerts.{field}", problem) for field, problem in config.alerts.missing_secrets()]
    if missing:
        raise CityConfigError(source, missing)
    return config


def _read(path: Path, source: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CityConfigError(source, [("", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CityConfigError(source, [("", f"cannot read it: {exc}")]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise CityConfigError(source, [("", f"{where}not valid YAML: {getattr(exc, 'problem', None) or exc}")]
                              ) from None
    if raw is None:
        return {}   # an empty file: the defaults
    if not isinstance(raw, dict):
        sections = ", ".join(f"{name}:" for name in CityConfig.model_fields)
        raise CityConfigError(source, [("", f"must be a mapping ({sections}), got {type(raw).__name__}")])
    return raw


def _describe(error: ErrorDetails) -> tuple[str, str]:
    """One pydantic error as (dotted field, message), worded for the operator who edits the file."""
    field = ".".join(str(part) for part in error["loc"])
    message = re.sub(r"^(Value|Assertion) error, ", "", error["msg"])
    if error["type"] == "value_error" and re.match(r"^[a-z_]+: ", message):
        # A check across a section's fields names its field first ("password_env: …"): join it to the path.
        name, message = message.split(": ", 1)
        field = f"{field}.{name}" if field else name
    elif error["type"] == "extra_forbidden":
        message = "unknown setting"
        if re.search(r"password|secret|token|key$", str(error["loc"][-1])):
            message += " (a secret never goes in the file: name its environment variable instead)"
    elif error["type"] not in ("missing", "value_error") and not isinstance(error.get("input"), dict | list):
        message += f" (got {error.get('input')!r})"
    return field or "(top level)", message


# -- the config of this process ------------------------------------------------------------------------------

_installed: CityConfig | None = None


def install(config: CityConfig) -> None:
    """Make `config` this process's (`current()`): `serve` and each worker do it once, before serving."""
    global _installed
    _installed = config


def current() -> CityConfig:
    """The installed config, or the defaults (a centre served without --config, a test, a CLI command)."""
    return _installed if _installed is not None else DEFAULT


def from_env(env: Any = os.environ) -> CityConfig:
    """The config of a worker: the file EVALUATOR_CENTRE_CONFIG names, the defaults without it."""
    path = env.get(ENV_CONFIG)
    return load(path) if path else DEFAULT
