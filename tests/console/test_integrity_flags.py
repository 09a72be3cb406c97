"""The Integrity page's flags in a real browser, on the demo city: flags planted in its database (as the analysis
stores them, naming real ratings of the first unit) are listed with their figures; a flag's page shows its
evidence in the unit's zone; the city office confirms one, excluding its ratings, and the audit log and the
exclusions record it; the auditor reads but cannot review; a unit manager sees no flag at all."""
from __future__ import annotations

from datetime import date

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from centre.db.engine import open_engine
from centre.db.loop_tables import rating_exclusions
from centre.db.tables import audit_log, ratings
from centre.integrity import flags
from centre.integrity.model import Evidence, Finding, FlagState, SignalKind
from tests.console.conftest import Console, expect_refusals, login

# The flags' days lie in a year no other test's model-unit round looks at: an open flag holds its unit's
# candidacy in the years its days fall in, and the demo city is shared by the console's tests.
YEAR = 2019


def plant(console: Console, kind: SignalKind, named: int = 3) -> tuple[int, str]:
    """A flag of `kind` at the first unit's first counter, naming `named` of its ratings; (its id, the unit)."""
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.begin() as conn:
            first = conn.execute(select(ratings.c.placed_unit_id, ratings.c.placed_counter_id)
                                 .order_by(ratings.c.placed_unit_id, ratings.c.pk).limit(1)).one()
            uuids = list(conn.execute(select(ratings.c.uuid).where(ratings.c.placed_unit_id == first[0])
                                      .order_by(ratings.c.pk).limit(named)).scalars())
            found = Finding(kind=kind, unit_id=first[0], counter_id=first[1], day_from=f"{YEAR}-01-05",
                            day_to=f"{YEAR}-01-09", figure=7.0, threshold=3.0,
                            detail={"test": "count", "fires": "at_least", "outside": 7},
                            evidence=Evidence.of(uuids))
            stored = flags.store(conn, [found], (date(YEAR, 1, 5), date(YEAR, 1, 9)))
        return stored.ids[0], str(first[0])
    finally:
        engine.dispose()


def post(page: Page, console: Console, path: str, form: dict[str, str]) -> int:
    token = page.get_attribute('meta[name="csrf-token"]', "content") or ""
    return page.request.post(console.page_url(path), form={**form, "csrf": token}, max_redirects=0).status


def test_the_office_confirms_a_flag_and_excludes_its_ratings(page: Page, console: Console) -> None:
    flag_id, unit = plant(console, SignalKind.OUT_OF_HOURS)
    login(page, console, "office")
    page.goto(console.page_url("/integrity?state=open"))
    row = page.locator(f'tr[data-flag="{flag_id}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text(unit)
    expect(row).to_contain_text("7")          # the figure, against …
    expect(row).to_contain_text("3")          # … its threshold
    row.locator("a").click()
    expect(page.locator("table.evidence-ratings tbody tr")).to_have_count(3)
    expect(page.locator("#flag-state")).to_have_text("待审核")
    page.check('input[name=decision][value=confirm]')
    page.check('input[name=exclude]')
    page.fill("textarea[name=reason]", "served after closing time, rated by the staff")
    page.click(".flag-review-form button[type=submit]")
    expect(page.locator("#flag-state")).to_have_text("已确认")
    expect(page.locator("table.evidence-ratings tr.excluded")).to_have_count(3)
    expect(page.locator(".flag-review-form")).to_have_count(0)       # reviewed once: no form any more
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(rating_exclusions)
                                .where(rating_exclusions.c.flag_id == flag_id)).scalar_one() == 3
            audit = conn.execute(select(audit_log).where(audit_log.c.target == f"integrity_flag:{flag_id}")
                                 ).mappings().one()
            assert (audit["actor"], audit["action"], audit["detail"]["decision"]) == (
                "office", "integrity_reviewed", "confirmed")
    finally:
        engine.dispose()
    # the filter by state finds it among the confirmed ones, and the audit page names the action
    page.goto(console.page_url("/integrity?state=confirmed"))
    expect(page.locator(f'tr[data-flag="{flag_id}"]')).to_be_visible()
    page.goto(console.page_url("/audit?action=integrity_reviewed"))
    expect(page.locator("main")).to_contain_text(f"integrity_flag:{flag_id}")


def test_the_auditor_reads_a_flag_but_cannot_review_it(page: Page, console: Console) -> None:
    flag_id, _ = plant(console, SignalKind.NO_STAFF)
    login(page, console, "auditor")
    page.goto(console.page_url(f"/integrity/flags/{flag_id}"))
    expect(page.locator("table.evidence-ratings tbody tr")).to_have_count(3)
    expect(page.locator(".flag-review-form")).to_have_count(0)
    expect_refusals(page)
    assert post(page, console, f"/integrity/flags/{flag_id}/review",
                {"decision": "dismiss", "reason": "looks fine to me"}) == 403
    engine = open_engine(console.db_url, create=False)
    try:
        with engine.connect() as conn:
            assert flags.flag(conn, flag_id).state is FlagState.OPEN       # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_a_unit_manager_sees_no_flag(page: Page, console: Console) -> None:
    flag_id, _ = plant(console, SignalKind.TOP_BURST)
    login(page, console, "manager")
    page.goto(console.page_url("/integrity"))
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("section.flags")).to_have_count(0)          # the chain report only
    expect_refusals(page)
    assert page.request.get(console.page_url(f"/integrity/flags/{flag_id}")).status == 403
    assert post(page, console, f"/integrity/flags/{flag_id}/review",
                {"decision": "dismiss", "reason": "nothing to see"}) == 403
