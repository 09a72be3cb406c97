"""Argument types the centre's commands share (argparse `type=`): a bad value is refused by argparse with the
command's usage and a line that names what was wrong."""
from __future__ import annotations

import argparse
from datetime import date


def iso_day(text: str) -> date:
    """A calendar day, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a day is YYYY-MM-DD, got {text!r}") from None
