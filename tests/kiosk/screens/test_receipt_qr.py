"""Which QR code the thanks shows when the receipt (回执) applies, beside the complaint: always one code, and the
one a citizen can use. No Kivy (the drawn and scanned code: tests/kiosk/ui/test_receipt_qr.py)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from contract import receipt_url, verify_receipt_url
from kiosk.config import Locale, Mode
from kiosk.rating.service import State, View
from kiosk.screens.linger import ComplaintLinger
from kiosk.screens.presenter import Presenter, shows_receipt_qr, shows_thanks_qr
from kiosk.store import StoredRating
from kiosk.store.tables import Channel

CENTRE = "https://pingjia.example.gov.cn"
UUID = "0b6b6a9e-6c1f-4a41-9d5e-2f7f0c1e9a10"


def sign(uuid: str) -> str:
    return receipt_url(f"{CENTRE}/r", "s3cret", "dev-0042", uuid)


def thanks(level: int) -> View:
    rating = StoredRating(uuid=UUID, seq=1, level=level, channel=Channel.TOUCH, mode="open", staff_id=None,
                          case_no=None, recorded_at="2026-11-25T02:00:00.000000+00:00", clock_suspect=False,
                          hash="0" * 64)
    return View(state=State.THANKS, mode=Mode.OPEN, accepting=False, rating=rating)


@pytest.fixture
def present(make_settings):
    def show(level: int, enrolled: bool = True, complaint: str | None = f"{CENTRE}/c", **citizen):
        settings = make_settings(citizen={"complaint_url": complaint, "receipt_url": f"{CENTRE}/r", **citizen})
        presenter = Presenter(settings, receipt_link=sign if enrolled else lambda _uuid: None)
        return presenter.present(thanks(level), Locale.ZH)

    return show


def test_after_a_bad_review_one_code_carries_the_receipt_whose_page_offers_the_complaint(present):
    model = present(1)
    assert verify_receipt_url(model.qr_payload, {"dev-0042": "s3cret"}.get) == UUID
    assert "回执" in model.qr_caption and "投诉" in model.qr_caption


def test_a_complaint_page_elsewhere_keeps_its_own_code(present):
    model = present(1, complaint="https://12345.example.gov.cn/tousu")
    assert model.qr_payload == "https://12345.example.gov.cn/tousu" and "投诉" in model.qr_caption


def test_without_a_complaint_page_the_receipt_alone(present):
    model = present(2, complaint=None)
    assert model.qr_payload == sign(UUID) and model.qr_caption == "扫码查看评价回执"


def test_by_default_a_good_rating_shows_no_receipt(present):
    assert present(5).qr_payload == ""


def test_every_rating_gets_its_receipt_when_configured(present):
    model = present(5, receipt_after="every")
    assert model.qr_payload == sign(UUID) and model.qr_caption == "扫码查看评价回执"


def test_never_means_the_complaint_code_as_before(present):
    model = present(1, receipt_after="never")
    assert model.qr_payload == f"{CENTRE}/c" and model.qr_caption == "如需投诉，请用手机扫码"


def test_before_enrollment_no_receipt_nobody_could_check(present):
    assert present(1).qr_payload.startswith(f"{CENTRE}/r?")
    assert present(1, enrolled=False).qr_payload == f"{CENTRE}/c"          # the complaint page, unsigned
    assert present(5, enrolled=False, receipt_after="every").qr_payload == ""


def test_the_receipt_code_stays_up_to_be_scanned_like_the_complaint_code(make_settings):
    settings = make_settings(citizen={"receipt_url": f"{CENTRE}/r", "receipt_after": "every"},
                             timings={"complaint_qr_s": 15.0})
    clock = [0.0]
    linger = ComplaintLinger(settings, lambda: clock[0])
    shown = thanks(5)
    assert shows_receipt_qr(settings, shown) and shows_thanks_qr(settings, shown)
    assert linger.view_to_draw(shown) is shown and linger.remaining_s() == pytest.approx(15.0)
    resting = View(state=State.AWAITING, mode=Mode.OPEN, accepting=True)
    clock[0] = 10.0
    assert linger.view_to_draw(resting) is shown
    clock[0] = 15.5
    assert linger.view_to_draw(resting) is resting


def test_the_setting_names_its_choices(make_settings):
    with pytest.raises(ValidationError, match="receipt_after"):
        make_settings(citizen={"receipt_after": "sometimes"})
