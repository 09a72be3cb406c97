"""The centre's tables (SQLAlchemy Core): one MetaData, which the migrations (centre/db/migrations) build.

Portable on purpose: any SQLAlchemy URL works (SQLite by default, PostgreSQL
in a city's data centre), so no dialect-specific SQL appears anywhere. Times
are stored as fixed-width UTC ISO 8601 text (`contract.iso_utc`), which
sorts and compares as text on every backend; nonces keep Unix seconds because
they are only ever compared with the signing window. The engine that opens them
is centre/db/engine.py; the helpers for a row's values, centre/db/rows.py.
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

enroll_codes = Table(
    "enroll_codes", metadata,
    Column("code", String(64), primary_key=True),
    Column("unit_id", String, nullable=False),
    Column("unit_name", String, nullable=False),
    Column("unit_timezone", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("counter_name", String, nullable=False),
    Column("unit_name_en", String),         # None: the centre has no English name (the terminal shows `unit_name`)
    Column("counter_name_en", String),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("used_at", String(32)),
    Column("device_id", String),
)

devices = Table(
    "devices", metadata,
    Column("id", String, primary_key=True),
    Column("secret", String, nullable=False),
    Column("unit_id", String, nullable=False, index=True),
    Column("unit_name", String, nullable=False),
    Column("unit_timezone", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("counter_name", String, nullable=False),
    Column("unit_name_en", String),
    Column("counter_name_en", String),
    Column("staff", JSON, nullable=False, default=list),
    Column("app_version", String),
    Column("enrolled_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("last_heartbeat", JSON),
    Column("last_seen", String(32)),
)

ratings = Table(
    "ratings", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    # every field of contract.RatingRecord (contract.RATING_FIELDS), exactly as sent; tests/contract checks it
    Column("uuid", String(36), nullable=False, unique=True),
    Column("seq", BigInteger, nullable=False),
    Column("device_id", String, nullable=False),
    Column("unit_id", String, nullable=False),
    Column("counter_id", String, nullable=False),
    Column("staff_id", String),
    Column("case_no", String(40)),
    Column("item_code", String(64)),                   # added by 0013; None where the counter sent none
    Column("level", Integer, nullable=False),
    Column("channel", String, nullable=False),
    Column("mode", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String, nullable=False),
    Column("clock_suspect", Boolean, nullable=False),
    Column("app_version", String, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # the centre's own view. Where a rating counts is the centre's knowledge, never the row's claim:
    # `delivered_by` is the enrolled device that signed the batch (the chain check runs per delivering
    # device), `placed_*` its placement from enrollment at ingest (what reports group by).
    Column("delivered_by", String, nullable=False),
    Column("placed_unit_id", String, nullable=False),
    Column("placed_counter_id", String, nullable=False),
    Column("before_enrollment", Boolean, nullable=False, default=False),   # in the chain before the device's id
    Column("placement_differs", Boolean, nullable=False, default=False),   # claimed unit/counter ≠ placement
    Column("received_at", String(32), nullable=False),
    Column("sent_at", String, nullable=False),
    Column("corrected_at", String(32)),
    Column("counted_at", String(32), nullable=False),   # corrected_at or recorded_at, in UTC: what reports use
    Column("clock_corrected", Boolean, nullable=False, default=False),
    Column("conflict", Boolean, nullable=False, default=False),
    Index("ix_ratings_delivered_seq", "delivered_by", "seq"),
    Index("ix_ratings_placed_unit_counted", "placed_unit_id", "counted_at"),
)

reasons = Table(
    "reasons", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("rating_uuid", String, nullable=False, index=True),
    Column("code", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("device_id", "id", name="uq_reasons_device_row"),
)

events = Table(
    "events", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("kind", String, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("mono_ns", BigInteger, nullable=False),
    Column("boot_id", String, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("received_at", String(32), nullable=False),
    Column("counted_at", String(32), nullable=False),   # recorded_at corrected by the batch's clock skew
    UniqueConstraint("device_id", "id", name="uq_events_device_row"),
    Index("ix_events_device_kind_counted", "device_id", "kind", "counted_at"),
)

# Call-back requests: a citizen's phone number, left with consent after a bad review. Kept apart
# from the ratings (the city may restrict and expire this table on its own) and joined by rating_uuid.
callbacks = Table(
    "callbacks", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("id", BigInteger, nullable=False),          # the device's row id
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("phone", String(16), nullable=False),
    Column("consent_version", String(16), nullable=False),
    Column("requested_at", String, nullable=False),
    Column("received_at", String(32), nullable=False),
    UniqueConstraint("device_id", "id", name="uq_callbacks_device_row"),
)

nonces = Table(
    "nonces", metadata,
    Column("device_id", String, nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("seen_at", BigInteger, nullable=False, index=True),   # Unix seconds, server clock
    UniqueConstraint("device_id", "nonce", name="uq_nonces_device_nonce"),
)

conflicts = Table(
    "conflicts", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, nullable=False, index=True),   # the device that sent the conflicting copy
    Column("rating_uuid", String(36), nullable=False, index=True),
    Column("received_at", String(32), nullable=False),
    Column("sent", JSON, nullable=False),
    Column("held", JSON, nullable=False),
)

# Rollups (centre/rollups.py): counts per unit-local day, unit, counter, staff, channel, measure and code,
# kept by the ingest in its own transaction so that indicators over a month or a year never scan raw rows.
# The raw tables stay the truth: `evaluator centre rollup rebuild` recomputes this one from them.
rollups = Table(
    "rollups", metadata,
    Column("unit_id", String, nullable=False),        # the centre's placement (ratings.placed_unit_id)
    Column("day", String(10), nullable=False),         # YYYY-MM-DD, the unit's local calendar day
    Column("counter_id", String, nullable=False),
    Column("staff_id", String, nullable=False),        # "" when no staff member was signed in
    Column("channel", String, nullable=False),         # touch, panel, keyboard; "" when an event names none
    Column("measure", String(24), nullable=False),     # level, before_enrollment, reason, solicited, unrated, …
    Column("code", String, nullable=False),            # the level ("1"–"5"), the reason code, or ""
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("unit_id", "day", "counter_id", "staff_id", "channel", "measure", "code",
                         name="pk_rollups"),
    Index("ix_rollups_day", "day"),
)

# The same counts without counter, staff and channel, per unit-local day and per local month (YYYY-MM), kept
# with the rollups in the same transaction: a city's ranking over a quarter sums a few thousand month rows
# instead of millions of per-counter-staff-channel day rows (centre/rollup_reads.py picks the table).
rollup_days = Table(
    "rollup_days", metadata,
    Column("unit_id", String, nullable=False),
    Column("day", String(10), nullable=False),
    Column("measure", String(24), nullable=False),
    Column("code", String, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("unit_id", "day", "measure", "code", name="pk_rollup_days"),
    # covering on PostgreSQL: a city's sums over days read the index alone (migration 0010 says why)
    Index("ix_rollup_days_day_measure", "day", "measure", postgresql_include=["code", "n", "unit_id"]),
)
rollup_months = Table(
    "rollup_months", metadata,
    Column("unit_id", String, nullable=False),
    Column("month", String(7), nullable=False),        # YYYY-MM of the unit's local days
    Column("measure", String(24), nullable=False),
    Column("code", String, nullable=False),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("unit_id", "month", "measure", "code", name="pk_rollup_months"),
    Index("ix_rollup_months_month_cov", "month", postgresql_include=["measure", "code", "n", "unit_id"]),
)

# API tokens of the city's own systems (centre/tokens.py): only a token's SHA-256 is kept. The scope is a
# kind (city, district, sector, district_sector, unit: centre/scopes.py) and the ids it names; nothing is deleted.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_ids", JSON, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
    Column("revoked_at", String(32)),
)


# The registry (centre/registry): district → sector → unit → counter → device; nothing is deleted. A unit
# carried over from before the registry has no district or sector (NULL) until the office gives it one.
districts = Table("districts", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                  Column("name", String, nullable=False), Column("name_en", String),
                  UniqueConstraint("name", name="uq_districts_name"))
sectors = Table("sectors", metadata, Column("code", String, primary_key=True),
                Column("name", String, nullable=False), Column("name_en", String))
units = Table("units", metadata, Column("id", String, primary_key=True),
              Column("name", String, nullable=False), Column("name_en", String),
              Column("district_id", Integer, ForeignKey("districts.id")),
              Column("sector_code", String, ForeignKey("sectors.code")),
              Column("timezone", String, nullable=False),
              Column("opening_hours", String, nullable=False),   # centre/registry/hours.py's text; "": not shown
              Column("address", String),
              Column("credit_code", String(18)),    # 统一社会信用代码, for the province's records (0013)
              Column("region_code", String(12)))    # 行政区划 code, the same
counters = Table("counters", metadata, Column("unit_id", String, ForeignKey("units.id"), primary_key=True),
                 Column("id", String, primary_key=True), Column("name", String, nullable=False),
                 Column("name_en", String))
# Where a device stood when: [from_at, until_at), until_at NULL for where it stands now (devices.unit_id/…).
device_placements = Table(
    "device_placements", metadata, Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String, ForeignKey("devices.id"), nullable=False),
    Column("unit_id", String, nullable=False), Column("counter_id", String, nullable=False),
    Column("from_at", String(32), nullable=False), Column("until_at", String(32)),
    ForeignKeyConstraint(["unit_id", "counter_id"], ["counters.unit_id", "counters.id"],
                         name="fk_device_placements_counter"),
    Index("ix_device_placements_device_from", "device_id", "from_at"))

# The staff roster per unit (centre/registry): nothing is deleted; a member who left has left_at, so past
# days still name them. The terminals of a unit receive its roster in their config.
staff = Table(
    "staff", metadata,
    Column("unit_id", String, ForeignKey("units.id"), nullable=False),
    Column("id", String, nullable=False),              # 工号
    Column("name", String, nullable=False), Column("name_en", String),
    Column("post", String, nullable=False), Column("post_en", String),
    Column("pin_hash", String),                        # a salted hash, never the PIN (contract.hash_secret)
    Column("photo", Text),                             # base64 JPEG/PNG, as contract.StaffRecord carries it
    Column("added_at", String(32), nullable=False),
    Column("left_at", String(32)),
    PrimaryKeyConstraint("unit_id", "id", name="pk_staff"),
)

# Each delivering device's chain (ratings.delivered_by), checked once at ingest against the stored tail
# (last_seq, last_hash) so the integrity report reads these rows instead of re-hashing every rating.
device_chains = Table(
    "device_chains", metadata,
    Column("device_id", String, primary_key=True),
    Column("ratings_held", BigInteger, nullable=False),
    Column("last_seq", BigInteger),                    # highest seq held; NULL before the first rating
    Column("last_hash", String(64)),
    Column("gaps", JSON, nullable=False),              # [[first, last], …] missing seq ranges in 1..last_seq
    Column("chain_breaks", JSON, nullable=False),      # seqs whose hash or link is wrong
    Column("conflicts", BigInteger, nullable=False),
    Column("before_enrollment", BigInteger, nullable=False),
    Column("placement_mismatches", BigInteger, nullable=False),
    Column("updated_at", String(32), nullable=False),
)

# The console's accounts (centre/console/accounts.py): a role and, for a district office or a unit manager,
# the district id or unit id it sees. Only an argon2 hash of the password is kept; five wrong passwords in a
# row set locked_until. Nothing is deleted: an account that should no longer log in is disabled.
console_users = Table(
    "console_users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),        # city, district, unit, auditor (centre/console/roles.py)
    Column("scope_id", String),                        # the district id (as text) or the unit id; NULL otherwise
    Column("password_hash", String, nullable=False),
    Column("failed_logins", Integer, nullable=False),  # wrong passwords since the last good one
    Column("locked_until", String(32)),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Console sessions, server-side so that a logout, a role change or a disabled account ends them at once: the
# cookie carries a random token of which only the SHA-256 is kept, with the session's CSRF token.
console_sessions = Table(
    "console_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("console_users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("ended_at", String(32)),
    Index("ix_console_sessions_user", "user_id"),
)

# The audit log (centre/console/audit.py): logins (good, wrong, locked), logouts, accounts added and their role
# changes, exports and every view of personal data. Append-only: no code path updates or deletes a row.
audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("actor", String(64)),                       # the account's name; NULL for a login as nobody known
    Column("role", String(16)),
    Column("action", String(32), nullable=False),      # centre/console/audit.py's Action
    Column("target", String, nullable=False),          # what it concerned: an account, a page, a file, a case
    Column("detail", JSON, nullable=False),
    Column("address", String(64)),                     # the client's address as the centre saw it
    Index("ix_audit_log_at", "at"),
)

# The model-unit round (示范点创评) of each year (centre/modelround.py): its target and number of titles,
# the units that applied (申报), the office's acceptance checks (验收), the confirmed list and the titles held,
# each with who and when. Titles are never deleted: a withdrawal is recorded beside the award.
model_rounds = Table(
    "model_rounds", metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("target", String(8), nullable=False),       # the satisfaction line as a decimal text, "0.80"
    Column("titles", Integer, nullable=False),         # how many units may be named
    Column("confirmed_by", String(64)),
    Column("confirmed_at", String(32)),
)
model_applications = Table(
    "model_applications", metadata,
    Column("year", Integer, ForeignKey("model_rounds.year"), nullable=False),
    Column("unit_id", String, ForeignKey("units.id"), nullable=False),
    Column("applied_at", String(32), nullable=False),
    Column("applied_by", String(64), nullable=False),
    Column("note", Text, nullable=False),
    PrimaryKeyConstraint("year", "unit_id", name="pk_model_applications"),
)
model_checks = Table(
    "model_checks", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, ForeignKey("model_rounds.year"), nullable=False),
    Column("unit_id", String, ForeignKey("units.id"), nullable=False),
    Column("method", String(16), nullable=False),      # ledger, open_visit, cross_check, commissioned
    Column("result", String(16), nullable=False),      # passed, failed
    Column("notes", Text, nullable=False),
    Column("checked_by", String(64), nullable=False),
    Column("checked_at", String(32), nullable=False),
)
model_titles = Table(
    "model_titles", metadata,
    Column("year", Integer, ForeignKey("model_rounds.year"), nullable=False),
    Column("unit_id", String, ForeignKey("units.id"), nullable=False),
    Column("awarded_by", String(64), nullable=False),
    Column("awarded_at", String(32), nullable=False),
    Column("withdrawn_in", Integer),                   # the round whose result fell short
    Column("withdrawn_by", String(64)),
    Column("withdrawn_at", String(32)),
    Column("withdrawal_reason", Text),
    PrimaryKeyConstraint("year", "unit_id", name="pk_model_titles"),
)

# What the centre's background work has done, by name (centre/housekeeping.py): the integrity signals' last
# daily run, so a restart does not run it again (added by 0013).
housekeeping_marks = Table("housekeeping_marks", metadata, Column("name", String(64), primary_key=True),
                           Column("value", String, nullable=False), Column("updated_at", String(32), nullable=False))

# The bad-review loop's, the citizen pages' and the integrity analytics' tables live in modules of their own on
# this MetaData; imported here so that whoever holds `metadata` (the migrations' env, the engine's checks, the
# tests) holds them too.
from centre.db import integrity_tables as _integrity_tables  # noqa: E402,F401
from centre.db import loop_tables as _loop_tables  # noqa: E402,F401
from centre.db import province_tables as _province_tables  # noqa: E402,F401
from centre.db import public_tables as _public_tables  # noqa: E402,F401
