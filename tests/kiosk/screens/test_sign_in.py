"""The sign-in form's words for each outcome, on a real access file and a real store (no Kivy)."""
from __future__ import annotations

from kiosk.config import Locale
from kiosk.rating.access import AccessControl, AccessFile, Outcome
from kiosk.screens.sign_in import TECHNICIAN, SignInForm
from tests.kiosk.virtual_time import VirtualTime


def type_in(form: SignInForm, who: str, pin: str) -> Outcome | None:
    form.choose(who)
    for digit in pin:
        form.type_digit(digit)
    attempt = form.submit()
    return None if attempt is None else attempt.outcome


def test_with_no_pin_set_the_form_says_how_to_set_one_in_both_languages(make_settings, store, tmp_path):
    settings = make_settings(staff=[{"id": "E1023", "name": "李明"}])
    secrets = AccessFile(tmp_path / "state")
    form = SignInForm(settings, AccessControl(settings, store, secrets, monotonic=VirtualTime().monotonic))

    assert type_in(form, "E1023", "2468") is Outcome.NOT_SET
    assert form.model(Locale.ZH).message == "未设置密码，请用 evaluator set-pin --staff E1023 设置"
    assert form.model(Locale.EN).message == "No PIN set: set one with evaluator set-pin --staff E1023"
    assert "错误" not in form.model(Locale.ZH).message and form.secret == ""

    assert type_in(form, TECHNICIAN, "97531") is Outcome.NOT_SET
    assert form.model(Locale.ZH).message == "未设置技术员密码，请用 evaluator set-pin --technician 设置"
    assert form.model(Locale.EN).message == ("No technician password set: "
                                            "set one with evaluator set-pin --technician")

    secrets.set_staff_pin("E1023", "2468")
    assert type_in(form, "E1023", "1111") is Outcome.WRONG
    assert form.model(Locale.EN).message == "Wrong PIN: 4 tries left"     # none spent on the tries above
