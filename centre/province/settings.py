"""The report to the province's settings: the `province:` part of the city config file (centre/cityconfig.py).

Every field has a default and the report is off by default. The key file holds the signing key: the HMAC
secret (shared with the province) or, for SM2, the centre's private key (the province holds the public key);
the file is read when the worker starts, never copied into the config. Units are in the names.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ProvinceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(False, description="report to the province at all (`province push` refuses to run "
                                             "from a config that says no)")
    mapping_file: Path | None = Field(None, description="the mapping's YAML file; none: the shipped default "
                                                        "(centre/province/mappings/default.yaml)")
    endpoint_url: str | None = Field(None, description="the province's upload address, http(s)")
    key_id: str = Field("centre", min_length=1, max_length=128, description="names our key to the province "
                                                                            "(the key-id header)")
    key_file: Path | None = Field(None, description="the HMAC secret, or the SM2 private key (hex) to sign with")
    batch_size: int = Field(100, ge=1, le=10_000, description="records per upload request")
    connect_timeout_s: float = Field(5.0, gt=0, le=300, description="to open the connection")
    read_timeout_s: float = Field(30.0, gt=0, le=3600, description="to wait for the answer once the request is "
                                                                   "sent (then the answer counts as lost)")
    backoff_base_s: float = Field(30.0, gt=0, le=86_400, description="after a failed upload a record waits a "
                                  "random time up to base × 2^(attempts-1) ...")
    backoff_cap_s: float = Field(3600.0, gt=0, le=7 * 86_400, description="... but never more than this")
    max_attempts: int = Field(20, ge=1, le=10_000, description="failed uploads after which a record waits for "
                              "the operator (`province push --retry-held`); it is never dropped")
    settle_s: float = Field(600.0, ge=0, le=7 * 86_400, description="records are made only for ratings received "
                            "this long ago, so their bad-review reasons (a later batch, at worst) have arrived")
    idle_s: float = Field(60.0, gt=0, le=86_400, description="the running worker's pause when nothing is due")

    @field_validator("endpoint_url")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) address, got {value!r}")
        return value

    @model_validator(mode="after")
    def _complete_when_on(self) -> ProvinceSettings:
        if self.enabled and self.endpoint_url is None:
            raise ValueError("endpoint_url: required when enabled is true")
        if self.enabled and self.key_file is None:
            raise ValueError("key_file: required when enabled is true")
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s: must be at least backoff_base_s")
        return self


DEFAULT = ProvinceSettings()
