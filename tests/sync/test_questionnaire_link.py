"""The questionnaire QR's link comes from the centre: a real centre process (with a public address in its city
config) sends it in the counter's object of the config a real terminal enrolls with and then pulls; the
terminal keeps it under `citizen` in centre.yaml, and the waiting screen shows the latest one without a
restart when the centre renews the token. A terminal older than the field ignores it (it rides in the counter's
object, whose unknown keys a terminal drops)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from centre import enroll
from centre.public import keys
from contract import DeviceConfig
from kiosk.config import CounterSettings, Locale, Mode, load
from kiosk.rating.service import State, View
from kiosk.screens.presenter import Presenter, ScreenName
from sync.client import Credentials, enrolled_client
from sync.provision import centre_part, provision, refresh_config
from tests.centre.conftest import Collector, register, start_centre

BASE_URL = "https://pj.example.gov.cn"
WAITING = View(state=State.IDLE, mode=Mode.SOLICITED, accepting=False)


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[Collector]:
    config = tmp_path / "centre.yaml"
    config.write_text(f"public: {{base_url: '{BASE_URL}'}}\n", encoding="utf-8")
    with start_centre(f"sqlite:///{tmp_path / 'centre.db'}", "--config", str(config)) as started:
        register(started.engine, "unit-7", "c-3")
        yield started


def terminal(tmp_path: Path) -> Path:
    folder = tmp_path / "terminal"
    folder.mkdir()
    path = folder / "config.yaml"
    path.write_text("mode: solicited\nsync: {connect_timeout_s: 2, read_timeout_s: 5}\n", encoding="utf-8")
    return path


def test_the_terminal_shows_the_centres_link_and_its_renewal_without_a_restart(centre: Collector,
                                                                               tmp_path: Path) -> None:
    config = terminal(tmp_path)
    provision(load(config), centre.url, enroll.create_code(centre.engine, "unit-7", "c-3"), config)
    settings = load(config)
    first = settings.citizen.questionnaire_url
    assert first is not None and first.startswith(f"{BASE_URL}/q/")
    presenter = Presenter(settings)
    model = presenter.present(WAITING, Locale.ZH)
    assert (model.screen, model.qr_payload) == (ScreenName.WAITING, first)

    with centre.engine.begin() as conn:   # the office rotates the key: the next pull carries a new token
        keys.rotate(conn, keys.QUESTIONNAIRE, datetime.now(UTC))
    credentials, client = enrolled_client(settings.sync)
    try:
        assert refresh_config(client, credentials, settings.sync.state_dir, config)
    finally:
        client.close()
    renewed = load(config).citizen.questionnaire_url
    assert renewed is not None and renewed != first and renewed.startswith(f"{BASE_URL}/q/")
    assert presenter.present(WAITING, Locale.ZH).qr_payload == renewed, "shown without a restart"


def test_the_link_rides_in_the_counter_which_an_older_terminal_ignores() -> None:
    config = DeviceConfig(unit={"id": "u", "name": "U", "timezone": "Asia/Shanghai"},
                          counter={"id": "c", "name": "C", "questionnaire_url": f"{BASE_URL}/q/abc"})
    part = centre_part(Credentials(device_id="d", secret="s" * 32, server="http://x"), config)
    assert part.overlay["citizen"] == {"questionnaire_url": f"{BASE_URL}/q/abc"}
    assert "questionnaire_url" not in part.overlay["counter"] and set(part.overlay["counter"]) <= set(
        CounterSettings.model_fields)
