"""A config that cannot be used, told as lines that each name the file and the dotted field."""
from __future__ import annotations

import re

from pydantic_core import ErrorDetails


class ConfigError(Exception):
    """A config file that cannot be used; each line names file and field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {field}: {msg}" if field else f"{source}: {msg}"
                                   for field, msg in problems))


def describe(error: ErrorDetails) -> tuple[str, str]:
    """One pydantic validation error as (dotted field, message), worded for the technician who edits the file."""
    field = ".".join(str(part) for part in error["loc"])
    message = re.sub(r"^Value error, ", "", error["msg"])
    if not field and ": " in message:
        # A cross-field check has no location of its own: it names its field as "field: message".
        field, message = message.split(": ", 1)
        return field, message
    if error["type"] == "extra_forbidden":
        return field, "unknown setting (secrets never go in config.yaml)"
    shown_input = "input" in error and not isinstance(error["input"], (dict, list))
    if error["type"] not in ("missing", "value_error") and shown_input:
        message += f" (got {error['input']!r})"
    return field or "(top level)", message
