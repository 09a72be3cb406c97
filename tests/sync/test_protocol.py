"""The shared contract: canonical encoding, hash chain and request signatures."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import (
    HASHED_FIELDS,
    MAX_CLOCK_SKEW_S,
    SignatureError,
    canonical_json,
    canonical_object,
    iso_utc,
    rating_hash,
    sign,
    verify_signature,
)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
BODY = b'{"ratings":[]}'


def fields(**changes):
    base = dict.fromkeys(HASHED_FIELDS)
    base.update(uuid="u" * 36, seq=1, level=5, clock_suspect=False, prev_hash="0" * 64, mono_ns=1)
    return {**base, **changes}


def test_canonical_json_is_stable_and_compact():
    assert canonical_json({"b": 1, "a": "满意"}) == '{"a":"满意","b":1}'.encode()


def test_hash_covers_every_hashed_field_and_nothing_else():
    original = rating_hash(fields())
    for name in HASHED_FIELDS:
        changed = fields(**{name: "x"}) if name not in ("seq", "level", "mono_ns") else fields(**{name: 2})
        assert rating_hash(changed) != original, name
    assert rating_hash({**fields(), "sync_state": "synced"}) == original
    with pytest.raises(KeyError):
        rating_hash({"uuid": "x"})


def test_iso_utc_is_fixed_width_utc_and_refuses_naive_times():
    assert iso_utc(datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))) == "2026-01-01T00:00:00.000000+00:00"
    with pytest.raises(ValueError):
        iso_utc(datetime(2026, 1, 1))


def test_a_signed_request_verifies():
    headers = sign("s3cret", "POST", "/v1/ingest", "dev-1", BODY, now=NOW, nonce="abcd1234")
    assert verify_signature("s3cret", "POST", "/v1/ingest", headers, BODY, now=NOW) == ("dev-1", "abcd1234")


@pytest.mark.parametrize("secret, method, path, body, now, words", [
    ("other", "POST", "/v1/ingest", BODY, NOW, "bad signature"),
    ("s3cret", "PUT", "/v1/ingest", BODY, NOW, "bad signature"),
    ("s3cret", "POST", "/v1/heartbeat", BODY, NOW, "bad signature"),
    ("s3cret", "POST", "/v1/ingest", BODY + b" ", NOW, "bad signature"),
    ("s3cret", "POST", "/v1/ingest", BODY, NOW + timedelta(seconds=MAX_CLOCK_SKEW_S + 1), "from server time"),
    ("s3cret", "POST", "/v1/ingest", BODY, NOW - timedelta(seconds=MAX_CLOCK_SKEW_S + 1), "from server time"),
])
def test_anything_changed_in_transit_fails(secret, method, path, body, now, words):
    headers = sign("s3cret", "POST", "/v1/ingest", "dev-1", BODY, now=NOW)
    with pytest.raises(SignatureError, match=words):
        verify_signature(secret, method, path, headers, body, now=now)


def test_another_device_id_in_the_headers_fails():
    headers = {**sign("s3cret", "POST", "/v1/ingest", "dev-1", BODY, now=NOW), "X-Evaluator-Device": "dev-2"}
    with pytest.raises(SignatureError, match="bad signature"):
        verify_signature("s3cret", "POST", "/v1/ingest", headers, BODY, now=NOW)


def test_missing_headers_are_named():
    headers = sign("s3cret", "POST", "/v1/ingest", "dev-1", BODY, now=NOW)
    del headers["X-Evaluator-Nonce"]
    with pytest.raises(SignatureError, match="X-Evaluator-Nonce"):
        verify_signature("s3cret", "POST", "/v1/ingest", headers, BODY, now=NOW)


@given(st.dictionaries(st.text(max_size=5), st.text(max_size=20) | st.integers() | st.none(), max_size=8))
def test_canonical_json_round_trips(value):
    import json
    assert json.loads(canonical_json(value)) == value
    assert canonical_json(json.loads(canonical_json(value))) == canonical_json(value)


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.booleans(), st.integers(), st.text()), max_size=6))
def test_an_object_of_encoded_members_is_the_canonical_encoding(value):
    assert canonical_object({key: canonical_json(item) for key, item in value.items()}) == canonical_json(value)
