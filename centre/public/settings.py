"""The citizen pages' settings, per city: the centre's public address, the questionnaire's tokens, the rate
limits, the free text's screening, and whether web ratings count in a unit's score.

Part of the city config file (centre/cityconfig.py, `public:`); every field has a default. The other pages of
issue #18 (complaint, receipt, results) add their fields here.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_SPAM_WORDS = ("代开发票", "加微信", "刷单", "贷款", "博彩", "casino", "viagra", "loan offer")


class PublicSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = Field(
        None, description="the centre's public address as citizens' phones reach it, e.g. https://pj.example.gov.cn; "
                          "without it the centre sends terminals no questionnaire URL (they keep their own)")
    token_valid_days: int = Field(
        14, ge=1, le=90, description="days a questionnaire QR's token stays valid (a photo of last month's code fails)")
    token_refresh_days: int = Field(
        3, ge=0, le=89, description="days before a token's expiry when the config a terminal pulls carries a new one")
    key_rotation_days: int = Field(
        90, ge=0, le=3650, description="days a signing key signs new tokens before a new key replaces it; 0: never")
    count_web_ratings: bool = Field(
        False, description="whether questionnaire ratings (channel web) count in a unit's score; by default they "
                           "are shown apart, never mixed in")
    address_per_hour: int = Field(
        20, ge=1, le=10_000, description="submissions a single network address may make per hour")
    token_per_hour: int = Field(
        60, ge=1, le=100_000, description="submissions one QR token (one counter's code) may carry per hour")
    pages_per_minute: int = Field(
        120, ge=1, le=100_000, description="citizen pages a single network address may open per minute")
    max_body_bytes: int = Field(
        64 * 1024, ge=4096, le=8 * 1024 * 1024, description="the largest form a citizen page accepts, bytes")
    spam_words: tuple[str, ...] = Field(
        DEFAULT_SPAM_WORDS, description="words that flag a text as spam (kept and shown flagged, never dropped)")
    abuse_words: tuple[str, ...] = Field(
        ("傻逼", "操你", "fuck"), description="words that flag a text as abusive (kept and shown flagged)")
    # The published digests (centre/public/digests.py), made by the housekeeping of `serve`.
    digest_grace_hours: float = Field(
        2.0, ge=0, le=23, description="hours after a unit's local midnight before its yesterday is published, so "
                                      "the terminals' last batches of the day are in")
    digest_days_back: int = Field(
        7, ge=1, le=92, description="days before yesterday still checked for late ratings (a newer digest) and "
                                    "published if they never were")

    # The complaint form and the receipt (centre/public/complaint.py, receipt.py).
    receipt_missing_after_h: float = Field(
        24.0, gt=0, le=24 * 30, description="hours after a receipt was first looked up for a rating the centre does "
                                            "not hold before the page says \"not received\" (until then \"not "
                                            "received yet\": terminals sync in batches); the office sees it")
    complaints_per_rating: int = Field(
        3, ge=1, le=20, description="complaints one rating's link may file (each a fresh form); more are refused")
    complaint_wait_days: int = Field(
        14, ge=1, le=90, description="days a complaint filed before its rating reached the centre waits to be "
                                     "joined to the rating's case when the rating arrives")

    @field_validator("base_url")
    @classmethod
    def _an_origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")) or "?" in value or "#" in value:
            raise ValueError("must be an http(s) address with no query, e.g. https://pj.example.gov.cn")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refresh_before_expiry(self) -> PublicSettings:
        if self.token_refresh_days >= self.token_valid_days:
            raise ValueError("token_refresh_days: must be less than token_valid_days (a terminal must get a new "
                             "token before its QR's expires)")
        return self


DEFAULT = PublicSettings()
