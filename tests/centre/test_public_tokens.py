"""The questionnaire QR's tokens (centre/public/tokens.py) and the centre's keys (centre/public/keys.py), on a
real SQLite file and, with EVALUATOR_TEST_PG_URL, on PostgreSQL: a token round-trips; a forged, altered or
expired one is refused; the token of a period holds still and the next one comes before it expires; a key
rotation keeps the retired key's tokens valid until they expire; two workers making the first key agree."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from centre.db.engine import open_engine
from centre.db.public_tables import centre_keys
from centre.errors import Forbidden, Gone
from centre.public import keys, tokens
from centre.public.settings import PublicSettings
from contract import DeviceConfig

SETTINGS = PublicSettings(base_url="https://pj.example.gov.cn", token_valid_days=14, token_refresh_days=3,
                          key_rotation_days=90)
NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = open_engine(db_url)
    with made.begin() as conn:
        conn.execute(centre_keys.delete())
    yield made
    made.dispose()


def issue(engine: Engine, now: datetime = NOW, settings: PublicSettings = SETTINGS, counter: str | None = "c-1") -> str:
    with engine.begin() as conn:
        return tokens.issue(conn, "unit-1", counter, now, settings)


def verify(engine: Engine, text: str, now: datetime = NOW) -> tokens.Token:
    with engine.connect() as conn:
        return tokens.verify(conn, text, now)


def test_a_token_names_its_unit_counter_and_period(engine: Engine) -> None:
    token = verify(engine, issue(engine))
    assert (token.unit_id, token.counter_id, token.key_id, token.valid_days) == ("unit-1", "c-1", "q1", 14)
    assert token.issued == tokens.period_start(NOW.date(), SETTINGS) <= NOW.date()
    assert token.expires_at - NOW > timedelta(days=SETTINGS.token_refresh_days)
    assert verify(engine, issue(engine, counter=None)).counter_id is None


def test_the_token_holds_still_through_a_period_and_the_next_comes_before_expiry(engine: Engine) -> None:
    first = verify(engine, issue(engine))
    same_period = first.issued + timedelta(days=10, hours=23)
    assert issue(engine, datetime.combine(same_period, datetime.min.time(), UTC)) == issue(engine)
    handover = datetime.combine(first.issued + timedelta(days=11), datetime.min.time(), UTC)
    second = verify(engine, issue(engine, handover), handover)
    assert second.issued == handover.date() and second.token_id != first.token_id
    # The terminal gets the new one token_refresh_days before the old one expires.
    assert first.expires_at - handover == timedelta(days=SETTINGS.token_refresh_days)


@pytest.mark.parametrize("tamper", ["payload", "mac", "garbage", "empty", "unknown key"])
def test_a_forged_or_altered_token_is_refused(engine: Engine, tamper: str) -> None:
    good = issue(engine)
    payload, mac = good.split(".")
    key = keys.Key("q9", b"x" * 32, NOW, None)
    forged = {
        "payload": tokens.Token("unit-2", "c-1", NOW.date(), 14, "q1", "abc").payload() + "." + mac,
        "mac": payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:],
        "garbage": "not-a-token.%%%",
        "empty": "",
        "unknown key": tokens.make(key, "unit-1", "c-1", NOW.date(), 14),
    }[tamper]
    with pytest.raises(Forbidden):
        verify(engine, forged)


def test_an_expired_token_is_gone(engine: Engine) -> None:
    token = verify(engine, issue(engine))
    with pytest.raises(Gone):
        verify(engine, issue(engine), token.expires_at)
    verify(engine, issue(engine), token.expires_at - timedelta(seconds=1))


def test_a_photo_of_last_months_code_fails(engine: Engine) -> None:
    with pytest.raises(Gone):
        verify(engine, issue(engine, NOW - timedelta(days=31)))


def test_rotation_keeps_the_retired_keys_tokens_until_they_expire(engine: Engine) -> None:
    old = issue(engine)
    later = NOW + timedelta(days=SETTINGS.key_rotation_days)
    new = issue(engine, later)
    assert verify(engine, new, later).key_id == "q2"
    with engine.connect() as conn:
        held = {key.id: key for key in keys.keys(conn, keys.QUESTIONNAIRE)}
    assert held["q1"].retired_at == later and held["q2"].retired_at is None
    # The old token still works within its own validity...
    old_token = verify(engine, old)
    verify(engine, old, old_token.expires_at - timedelta(seconds=1))
    # ...and the retired key signs nothing new: a token it made for a later period is refused.
    forged = tokens.make(held["q1"], "unit-1", "c-1", later.date() + timedelta(days=1), 14)
    with pytest.raises(Forbidden, match="retired"):
        verify(engine, forged, later + timedelta(days=2))


def test_an_operators_rotation_signs_with_the_new_key_at_once(engine: Engine) -> None:
    before = issue(engine)
    with engine.begin() as conn:
        assert keys.rotate(conn, keys.QUESTIONNAIRE, NOW).id == "q2"
    after = issue(engine)
    assert after != before and verify(engine, after).key_id == "q2"
    assert verify(engine, before).key_id == "q1"


def test_two_workers_making_the_first_key_agree_on_it(engine: Engine) -> None:
    """Both insert generation 1: one wins, the other's insert fails quietly and it reads the winner's."""
    with engine.begin() as conn:
        keys._insert_generation(conn, keys.QUESTIONNAIRE, 1, NOW)
        keys._insert_generation(conn, keys.QUESTIONNAIRE, 1, NOW)
        assert [key.id for key in keys.keys(conn, keys.QUESTIONNAIRE)] == ["q1"]
    results: list[str] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        results.append(issue(engine, NOW + timedelta(days=SETTINGS.key_rotation_days)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(set(results)) == 1, "every worker signs with the same key"
    with engine.connect() as conn:
        assert conn.execute(select(centre_keys.c.id).order_by(centre_keys.c.id)).scalars().all() == ["q1", "q2"]


def test_the_config_carries_the_url_only_with_a_public_address(engine: Engine) -> None:
    config = DeviceConfig(unit={"id": "unit-1", "name": "U", "timezone": "Asia/Shanghai"},
                          counter={"id": "c-1", "name": "C"})
    assert tokens.with_questionnaire_url(engine, config, NOW, PublicSettings()) == config
    sent = tokens.with_questionnaire_url(engine, config, NOW, SETTINGS).counter["questionnaire_url"]
    assert sent.startswith("https://pj.example.gov.cn/q/") and len(sent) <= tokens.URL_MAX_CHARS
    assert verify(engine, sent.rsplit("/", 1)[1]).counter_id == "c-1"
    long_base = PublicSettings(base_url="https://" + "x" * 250 + ".cn")
    assert "questionnaire_url" not in tokens.with_questionnaire_url(engine, config, NOW, long_base).counter


def test_settings_refuse_a_refresh_no_sooner_than_expiry() -> None:
    with pytest.raises(ValueError, match="token_refresh_days"):
        PublicSettings(token_valid_days=3, token_refresh_days=3)
    assert tokens.period_start(date(1970, 1, 12), SETTINGS) == date(1970, 1, 12)
