"""Staff photos travel with the centre's roster: checked by the collector, written by the terminal, kept safe."""
from __future__ import annotations

import base64
import logging
import os

import pytest
import requests
from pydantic import ValidationError
from sqlalchemy import create_engine

from centre.db.tables import staff
from contract import MAX_PHOTO_BASE64, MAX_PHOTO_BYTES, DeviceConfig, StaffRecord
from kiosk.config import load
from kiosk.screens.photos import photo_problem
from sync.client import Credentials
from sync.provision import PHOTO_DIR, centre_part
from tests.images import write_png
from tests.sync.conftest import provisioned
from tests.sync.test_worker import run_worker_until, set_roster

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100)    # the signature is what the checks read


def noise_png(path, side: int):
    """A PNG of random grey: it does not compress, so its size is about side²."""
    return write_png(path, side, side, pixels=os.urandom(side * side))


def photos_on(settings) -> dict[str, bytes]:
    folder = settings.sync.state_dir / PHOTO_DIR
    return {path.name: path.read_bytes() for path in folder.iterdir()} if folder.is_dir() else {}


def test_the_wire_takes_a_small_jpeg_or_png_and_refuses_anything_else(tmp_path):
    png = write_png(tmp_path / "a.png", 30, 40).read_bytes()
    for image in (png, JPEG):
        assert StaffRecord(id="E1", name="李明", photo=base64.b64encode(image).decode()).photo
    refused = {"not base64": "this is no photo!",
               "not a JPEG or PNG": base64.b64encode(b"GIF89a" + bytes(50)).decode(),
               "at most": base64.b64encode(b"\xff\xd8\xff" + bytes(MAX_PHOTO_BYTES)).decode(),
               "empty": ""}
    for why, text in refused.items():
        with pytest.raises(ValidationError, match=why):
            StaffRecord(id="E1", name="李明", photo=text)


def test_a_photo_set_at_the_centre_reaches_the_terminal_beside_its_roster(collector, terminal_config, tmp_path):
    local = write_png(tmp_path / "local.png", 10, 10)
    config = terminal_config(extra=f"staff: [{{id: E2000, name: 王芳, photo: {local}}}, {{id: E9, name: 赵六}}]\n")
    settings = provisioned(collector, config)
    first = write_png(tmp_path / "e1023.png", 30, 40).read_bytes()
    set_roster(collector, tmp_path, settings.unit.id, [
        {"id": "E1023", "name": "李明", "post": "综合窗口", "photo": "e1023.png"},
        {"id": "E2000", "name": "王芳"}])
    # Until the centre's roster arrives, config.yaml's stays (the centre sent none at enrollment).
    assert [member.id for member in load(config).staff] == ["E2000", "E9"]
    run_worker_until(settings, config, lambda _w: [m.id for m in load(config).staff] == ["E1023", "E2000"])

    staff = {member.id: member for member in load(config).staff}
    assert staff["E1023"].photo.parent == settings.sync.state_dir / PHOTO_DIR
    assert staff["E1023"].photo.read_bytes() == first and photo_problem(staff["E1023"].photo) is None
    assert staff["E2000"].photo == local           # no photo from the centre: config.yaml's stays
    centre_yaml = (settings.sync.state_dir / "centre.yaml").read_text(encoding="utf-8")
    assert base64.b64encode(first).decode()[:40] not in centre_yaml   # a file, not base64 in YAML

    # A new photo is a new file; the one the running terminal still shows stays until the change after.
    second = write_png(tmp_path / "e1023.png", 20, 20).read_bytes()      # the office replaces the file
    set_roster(collector, tmp_path, settings.unit.id, [{"id": "E1023", "name": "李明", "photo": "e1023.png"},
                                                       {"id": "E2000", "name": "王芳", "photo": "e1023.png"}])
    run_worker_until(settings, config, lambda _w: load(config).staff[0].photo.read_bytes() == second)
    assert sorted(photos_on(settings).values()) == sorted([first, second])
    assert load(config).staff[1].photo == load(config).staff[0].photo             # same image, one file
    set_roster(collector, tmp_path, settings.unit.id, [{"id": "E1023", "name": "李明", "photo": "e1023.png"}])
    run_worker_until(settings, config, lambda _w: len(load(config).staff) == 1)
    assert list(photos_on(settings).values()) == [second]

    # A photo file lost on the terminal comes back with the next pull, though the roster did not change.
    (load(config).staff[0].photo).unlink()
    run_worker_until(settings, config, lambda _w: load(config).staff[0].photo.is_file())


def test_the_collector_refuses_a_roster_photo_it_cannot_send(collector, tmp_path):
    noise_png(tmp_path / "big.png", 300)
    (tmp_path / "e1.gif").write_bytes(b"GIF89a" + bytes(50))
    for photo, why in (("missing.png", "file not found"), ("big.png", f"at most {MAX_PHOTO_BYTES:,}"),
                       ("e1.gif", "not a JPEG or PNG"), (".", "cannot read")):
        (tmp_path / "roster.yaml").write_text(f"- {{id: E1, name: 李明, photo: '{photo}'}}\n", encoding="utf-8")
        done = collector.cli("roster", "--unit", "unit-7", "--file", str(tmp_path / "roster.yaml"))
        assert done.returncode == 2 and "staff 'E1': photo" in done.stderr and why in done.stderr, done.stderr


def test_a_bad_photo_from_another_centre_costs_only_that_photo(collector, terminal_config, tmp_path, caplog):
    config = terminal_config()
    settings = provisioned(collector, config)
    png = base64.b64encode(write_png(tmp_path / "ok.png", 8, 8).read_bytes()).decode()
    gif = base64.b64encode(b"GIF89a" + bytes(50)).decode()
    engine = create_engine(collector.db)             # a centre that does not check what it stores and sends
    with engine.begin() as conn:
        conn.execute(staff.insert(), [
            {"unit_id": settings.unit.id, "id": member, "name": name, "post": "", "photo": photo,
             "added_at": "2026-01-01T00:00:00.000000+00:00"}
            for member, name, photo in (("E1", "李明", "%%% not base64"), ("E2", "王芳", png), ("E3", "张伟", gif))])
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger="sync.provision"):
        run_worker_until(settings, config, lambda _w: len(load(config).staff) == 3)
        # A photo that is no text at all: the staff table holds text, so only another centre sends one.
        odd = DeviceConfig(unit={"id": "u", "name": "u", "timezone": "Asia/Shanghai"}, counter={"id": "c", "name": "c"},
                           staff=[{"id": "E4", "name": "赵六", "photo": 42}])
        assert centre_part(Credentials.load(settings.sync.state_dir), odd).overlay["staff"] == [
            {"id": "E4", "name": "赵六"}]
    photos = {member.id: member.photo for member in load(config).staff}
    assert photos["E1"] is None and photos["E3"] is None and photos["E2"].is_file()
    warnings = [record.getMessage() for record in caplog.records]
    assert any("'E1'" in line and "not base64" in line and "silhouette" in line for line in warnings)
    assert any("'E3'" in line and "not a JPEG or PNG" in line for line in warnings)
    assert any("'E4'" in line and "not a base64 string" in line for line in warnings)


def test_the_running_collector_documents_the_roster_photo(collector):
    document = requests.get(collector.url + "/openapi.json", timeout=10).json()
    schemas = document["components"]["schemas"]
    assert schemas["DeviceConfig"]["properties"]["staff"]["items"]["$ref"].endswith("/StaffRecord")
    photo = schemas["StaffRecord"]["properties"]["photo"]
    assert photo["contentEncoding"] == "base64" and str(MAX_PHOTO_BYTES) in photo["description"]
    assert photo["anyOf"][0]["maxLength"] == MAX_PHOTO_BASE64
