"""Where ratings are kept (the SQLite store) and how they reach the centre (sync)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from kiosk.config.base import Frozen


class StoreSettings(Frozen):
    path: Path = Field(Path("var/evaluator.db"), description="SQLite file; relative to the config file's folder.")
    busy_timeout_ms: Annotated[int, Field(ge=100, le=60_000)] = 5000


class SyncSettings(Frozen):
    server: str | None = Field(None, description="The centre's base URL; set by provisioning. null = no sync.")
    state_dir: Path = Field(Path("var/sync"), description="Device key (0600) and the centre's config; not config.yaml.")
    batch_size: Annotated[int, Field(ge=1, le=5000)] = 500
    interval_s: Annotated[float, Field(gt=0, le=86_400, description="Drain the queue this often.")] = 60.0
    interval_jitter: Annotated[float, Field(ge=0, le=0.5, description="Each wait between drains is interval_s "
                                            "× (1 ± up to this share), drawn anew each time: terminals that came "
                                            "back together drift apart.")] = 0.1
    start_spread_s: Annotated[float, Field(ge=0, le=3600, description="The sync process's first drain waits a "
                                           "random 0 to this many seconds (at most interval_s): a hall or a city "
                                           "powered on together does not upload in step.")] = 30.0
    bad_review_poll_s: Annotated[float, Field(gt=0, le=600, description="A new bad review is sent within this.")] = 2.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    read_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    backoff_base_s: Annotated[float, Field(gt=0, le=600)] = 1.0
    backoff_cap_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    retry_after_jitter: Annotated[float, Field(ge=0, le=1, description="The centre's Retry-After of N s is waited "
                                               "N plus a random 0 to this share of N (at most "
                                               "retry_after_jitter_max_s): the refused do not return in step.")] = 1.0
    retry_after_jitter_max_s: Annotated[float, Field(ge=0, le=600, description="The most that share adds to a "
                                                     "Retry-After, in seconds.")] = 5.0
