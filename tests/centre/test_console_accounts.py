"""Console accounts on a real SQLite database: centre/console/accounts.py (the lockout, scopes, roles),
sessions.py (ended by a role change, a new password, disabling) and commands.py (`evaluator centre user …`,
run in-process through centre.cli.main, the password on standard input as a script would give it)."""
from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from centre.cli import EXIT_OK, EXIT_USAGE, main
from centre.console import accounts, sessions
from centre.console.accounts import LoginOutcome
from centre.console.commands import PASSWORD_ENV
from centre.console.roles import Role
from centre.db.engine import open_engine
from centre.db.tables import audit_log, console_users, districts
from centre.errors import BadInput, NotFound
from tests.centre.conftest import register

PASSWORD = "a-long-enough-password"
UNIT = "unit-a"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id still, with small costs: the defaults take most of a second a hash on a busy test machine, and
    these tests hash and verify dozens of times. What is tested is what the code does with the hash."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A centre database with one district (测试区) holding one unit."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    engine = open_engine(url)
    register(engine, UNIT, "c1")
    try:
        yield url, engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(db: tuple[str, Engine]) -> Engine:
    return db[1]


def district_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(districts.c.id).where(districts.c.name == "测试区")).scalar_one())


def add(engine: Engine, name: str, role: str = "unit", scope: str | None = UNIT) -> accounts.Account:
    with engine.begin() as conn:
        return accounts.add(conn, name, role, scope, PASSWORD)


def log_in(engine: Engine, name: str, password: str, now: datetime) -> accounts.LoginResult:
    with engine.begin() as conn:
        return accounts.login(conn, name, password, now)


def open_session(engine: Engine, account: accounts.Account) -> str:
    with engine.begin() as conn:
        return sessions.open_session(conn, account.id, datetime.now(UTC))


def signed_in(engine: Engine, token: str) -> Role | None:
    with engine.connect() as conn:
        viewer = sessions.viewer(conn, token, datetime.now(UTC))
    return viewer.role if viewer else None


def cli(monkeypatch: pytest.MonkeyPatch, url: str, *args: str, stdin: str = "") -> int:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))     # not a terminal: the password is read from it
    return main(["user", *args, "--db", url])


# -- the lockout ----------------------------------------------------------------------


def test_five_wrong_passwords_lock_for_fifteen_minutes_even_against_the_right_one(engine: Engine) -> None:
    add(engine, "guessed")
    for minute in range(4):
        assert log_in(engine, "guessed", "wrong", T0 + timedelta(minutes=minute)).outcome is LoginOutcome.WRONG
    fifth = log_in(engine, "guessed", "wrong", T0 + timedelta(minutes=4))
    assert fifth.outcome is LoginOutcome.LOCKED
    until = T0 + timedelta(minutes=4 + 15)
    assert fifth.locked_until == until.isoformat(timespec="microseconds")
    assert log_in(engine, "guessed", PASSWORD, until - timedelta(seconds=1)).outcome is LoginOutcome.LOCKED
    assert log_in(engine, "guessed", PASSWORD, until + timedelta(seconds=1)).outcome is LoginOutcome.OK


def test_a_lock_that_ran_out_counts_wrong_passwords_anew(engine: Engine) -> None:
    add(engine, "retry")
    for _ in range(5):
        log_in(engine, "retry", "wrong", T0)
    later = T0 + timedelta(minutes=16)
    assert log_in(engine, "retry", "wrong", later).outcome is LoginOutcome.WRONG   # not locked again at once
    for _ in range(3):
        assert log_in(engine, "retry", "wrong", later).outcome is LoginOutcome.WRONG
    assert log_in(engine, "retry", "wrong", later).outcome is LoginOutcome.LOCKED


def test_a_good_login_forgets_earlier_wrong_ones(engine: Engine) -> None:
    add(engine, "typo")
    for _ in range(4):
        log_in(engine, "typo", "wrong", T0)
    assert log_in(engine, "typo", PASSWORD, T0).outcome is LoginOutcome.OK
    for _ in range(4):
        assert log_in(engine, "typo", "wrong", T0).outcome is LoginOutcome.WRONG


def test_an_unknown_name_gets_the_answer_of_a_wrong_password(engine: Engine) -> None:
    add(engine, "known")
    unknown, wrong = log_in(engine, "nobody", "wrong", T0), log_in(engine, "known", "wrong", T0)
    assert unknown.outcome is wrong.outcome is LoginOutcome.WRONG
    assert unknown.account is None and unknown.locked_until is None


def test_only_an_argon2_hash_of_the_password_is_kept(engine: Engine) -> None:
    add(engine, "hashed")
    with engine.connect() as conn:
        stored = conn.execute(select(console_users.c.password_hash)
                              .where(console_users.c.name == "hashed")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


# -- scopes and roles -----------------------------------------------------------------


def test_each_role_takes_its_own_scope(engine: Engine) -> None:
    district = district_id(engine)
    assert add(engine, "by-id", "district", str(district)).scope_id == str(district)
    assert add(engine, "by-name", "district", "测试区").scope_id == str(district)   # as `unit list` shows it
    assert add(engine, "manager", "unit", UNIT).scope_id == UNIT
    assert add(engine, "office", "city", None).scope_id is None
    assert add(engine, "auditor", "auditor", None).scope_id is None


@pytest.mark.parametrize(("role", "scope", "error", "words"), [
    ("district", "99", NotFound, "no district '99'"),
    ("district", "北区", NotFound, "no district '北区'"),
    ("district", "9" * 30, NotFound, "no district '9999"),
    ("district", None, BadInput, "a district account needs its district id"),
    ("unit", "unit-zz", NotFound, "no unit 'unit-zz'"),
    ("unit", None, BadInput, "a unit account needs its unit id"),
    ("city", UNIT, BadInput, "a city account sees the whole city and takes no scope"),
    ("auditor", "1", BadInput, "a auditor account sees the whole city and takes no scope"),
    ("boss", None, BadInput, "role: one of city, district, unit, auditor, got 'boss'"),
])
def test_a_wrong_scope_or_role_is_refused_naming_it(engine: Engine, role: str, scope: str | None,
                                                     error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words), engine.begin() as conn:
        accounts.add(conn, "refused", role, scope, PASSWORD)
    with engine.connect() as conn:
        assert accounts.listing(conn) == []


@pytest.mark.parametrize(("name", "password", "words"), [
    ("a", PASSWORD, "name: 2–64 letters"),
    ("has space", PASSWORD, "name: 2–64 letters"),
    ("office\n", PASSWORD, "name: 2–64 letters"),     # no look-alike of another name in the audit log
    ("shorty", "short", "password: at least 10 characters, got 5"),
])
def test_a_bad_name_or_short_password_is_refused_naming_it(engine: Engine, name: str, password: str,
                                                            words: str) -> None:
    with pytest.raises(BadInput, match=words), engine.begin() as conn:
        accounts.add(conn, name, "city", None, password)


def test_a_name_is_taken_once(engine: Engine) -> None:
    add(engine, "twice")
    with pytest.raises(BadInput, match="an account 'twice' exists already"), engine.begin() as conn:
        accounts.add(conn, "twice", "city", None, PASSWORD)


# -- the CLI and sessions -------------------------------------------------------------


def test_user_add_reads_the_password_from_standard_input(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    url, engine = db
    assert cli(monkeypatch, url, "add", "--name", "piped", "--role", "unit", "--scope", UNIT,
               stdin="piped-password-1\n") == EXIT_OK
    assert capsys.readouterr().out.strip() == f"account piped: unit of {UNIT}"
    assert log_in(engine, "piped", "piped-password-1", T0).outcome is LoginOutcome.OK
    with engine.connect() as conn:
        entry = conn.execute(select(audit_log).order_by(audit_log.c.id.desc())).first()
    assert entry is not None and (entry.action, entry.target) == ("user_added", "piped")
    assert entry.actor.startswith("cli") and entry.detail == {"role": "unit", "scope": UNIT}


@pytest.mark.parametrize(("args", "stdin", "words"), [
    (("add", "--name", "x1", "--role", "unit", "--scope", "nowhere"), PASSWORD, "scope: no unit 'nowhere'"),
    (("add", "--name", "x1", "--role", "chief"), PASSWORD, "role: one of city, district, unit, auditor"),
    (("add", "--name", "x1", "--role", "city"), "short", "password: at least 10 characters, got 5"),
    (("add", "--name", "x1", "--role", "city"), "", "password: at least 10 characters, got 0"),
    (("role", "--name", "ghost", "--role", "city"), "", "no console account 'ghost'"),
    (("disable", "--name", "ghost"), "", "no console account 'ghost'"),
])
def test_the_cli_names_what_was_wrong(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str], args: tuple[str, ...], stdin: str,
                                      words: str) -> None:
    assert cli(monkeypatch, db[0], *args, stdin=stdin + "\n") == EXIT_USAGE
    assert words in capsys.readouterr().err


def test_a_role_change_ends_the_accounts_sessions(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    url, engine = db
    account, other = add(engine, "moved"), add(engine, "stays")
    token, kept = open_session(engine, account), open_session(engine, other)
    assert signed_in(engine, token) is Role.UNIT
    assert cli(monkeypatch, url, "role", "--name", "moved", "--role", "district", "--scope", "测试区") == EXIT_OK
    assert signed_in(engine, token) is None                  # the old role does not ride on the old session
    assert signed_in(engine, kept) is Role.UNIT              # nobody else's ends
    with engine.connect() as conn:
        assert accounts.get(conn, "moved").scope_id == str(district_id(engine))
    fresh = open_session(engine, account)
    assert signed_in(engine, fresh) is Role.DISTRICT


def test_a_new_password_ends_sessions_and_lifts_a_lock(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    url, engine = db
    account = add(engine, "forgot")
    token = open_session(engine, account)
    now = datetime.now(UTC)
    for _ in range(5):
        log_in(engine, "forgot", "wrong", now)
    assert log_in(engine, "forgot", PASSWORD, now).outcome is LoginOutcome.LOCKED
    assert cli(monkeypatch, url, "password", "--name", "forgot", stdin="the-new-password\n") == EXIT_OK
    assert signed_in(engine, token) is None
    assert log_in(engine, "forgot", "the-new-password", now).outcome is LoginOutcome.OK


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(db: tuple[str, Engine],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    url, engine = db
    account = add(engine, "leaver")
    token = open_session(engine, account)
    assert cli(monkeypatch, url, "disable", "--name", "leaver") == EXIT_OK
    assert signed_in(engine, token) is None
    assert log_in(engine, "leaver", PASSWORD, T0).outcome is LoginOutcome.DISABLED
    assert cli(monkeypatch, url, "list") == EXIT_OK
    assert "leaver  unit  unit-a  disabled" in capsys.readouterr().out
    assert cli(monkeypatch, url, "enable", "--name", "leaver") == EXIT_OK
    assert signed_in(engine, token) is None                  # an ended session stays ended
    assert log_in(engine, "leaver", PASSWORD, T0).outcome is LoginOutcome.OK
    with engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action).where(audit_log.c.target == "leaver")
                                    .order_by(audit_log.c.id)).scalars())
    assert actions == ["user_disabled", "user_enabled"]


def test_the_cli_lists_a_locked_account_as_locked(db: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url, engine = db
    add(engine, "stuck")
    for _ in range(5):
        log_in(engine, "stuck", "wrong", datetime.now(UTC))
    assert cli(monkeypatch, url, "list") == EXIT_OK
    assert "stuck  unit  unit-a  locked until " in capsys.readouterr().out
