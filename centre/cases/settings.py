"""The bad-review loop's settings, per city: deadlines, who calls back, how long numbers stay, evidence.

Part of the city config file (centre/cityconfig.py, `cases:`); every field has a default, so a city without
a config file runs the provincial rules (contact within 1 working day, rectification within 15).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from centre.cases.model import ActorRole

MIB = 1024 * 1024
# What evidence may be: photos of the counter, scanned documents, a written account. Judged from the file's
# first bytes (centre/cases/evidence.py), never from the upload's claimed type or name.
KNOWN_MEDIA_TYPES = ("image/jpeg", "image/png", "application/pdf", "text/plain")


class CaseSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contact_working_days: int = Field(
        1, ge=1, le=30, description="working days to reach a citizen who left a number (回访), in the unit's zone")
    rectify_working_days: int = Field(
        15, ge=1, le=120, description="working days from opening to the rectification (整改)")
    escalate_to_city_after_working_days: int = Field(
        5, ge=0, le=60,
        description="working days a case stays escalated to its district before it escalates to the city")
    caller_role: ActorRole = Field(
        ActorRole.DISTRICT,
        description="who calls citizens back and alone sees their numbers: district or city, never the unit")
    erase_numbers_after_days: int = Field(
        30, ge=0, le=3650, description="calendar days after a case closes before its numbers are erased")
    # 6 MiB: a phone's photo or a scanned page, and below the centre's request body limit (8 MiB by default,
    # `serve --max-body-mib`) with room for the form around it; `serve` refuses a cap the body limit cannot carry.
    evidence_max_bytes: int = Field(6 * MIB, ge=1, le=100 * MIB, description="the largest evidence file, bytes")
    evidence_media_types: tuple[str, ...] = Field(
        KNOWN_MEDIA_TYPES, min_length=1, description="the evidence types accepted, as judged from the content")
    overdue_blocks_candidacy: bool = Field(
        True, description="a unit with an overdue case at a round's end is not a model-unit candidate")

    @field_validator("caller_role")
    @classmethod
    def _an_office(cls, value: ActorRole) -> ActorRole:
        if value not in (ActorRole.DISTRICT, ActorRole.CITY):
            raise ValueError("must be district or city: the unit reviewed never calls the citizen back")
        return value

    @field_validator("evidence_media_types")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(KNOWN_MEDIA_TYPES))
        if unknown:
            raise ValueError(f"unknown media type(s) {', '.join(unknown)}; known: {', '.join(KNOWN_MEDIA_TYPES)}")
        return value


DEFAULT = CaseSettings()


def current() -> CaseSettings:
    """This process's settings: the installed city config's `cases` (centre/cityconfig.py), the defaults
    without one. Ingest and the call-backs open cases deep inside calls many callers share, so the settings
    are not threaded through them; the flow's steps take an explicit `settings` too, for tests and tools."""
    from centre import cityconfig  # imported here: cityconfig imports this module for CaseSettings

    return cityconfig.current().cases
