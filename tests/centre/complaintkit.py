"""What the complaint tests share: a rating's signed complaint (or receipt) link as the centre checks it, and a
complaint filed through it by the citizen pages' own function (centre/public/complaint.py), an hour after MONDAY."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine, select

from centre.db.tables import devices
from centre.public.complaint import Filed, Form, file_complaint
from centre.public.settings import PublicSettings
from centre.public.signed import Link, Purpose, check
from contract import complaint_url, receipt_url
from tests.centre.casekit import MONDAY, Terminal

SETTINGS = PublicSettings()
LATER = MONDAY + timedelta(hours=1)
FORM_ID = "f" * 22


def secret_of(engine: Engine, device_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(devices.c.secret).where(devices.c.id == device_id)).scalar_one())


def checked(engine: Engine, url: str, purpose: Purpose) -> Link:
    with engine.connect() as conn:
        return check(conn, url, parse_qs(urlsplit(url).query), purpose)


def link_of(engine: Engine, device: Terminal, uuid: str, purpose: Purpose = Purpose.COMPLAINT) -> Link:
    make = complaint_url if purpose is Purpose.COMPLAINT else receipt_url
    return checked(engine, make("https://pj.example/x", secret_of(engine, device.device_id), device.device_id, uuid),
                   purpose)


def complain(engine: Engine, link: Link, text: str = "窗口人员态度差", phone: str = "", n: int = 0) -> Filed:
    form = Form(form_id=f"{FORM_ID[:-2]}{n:02d}", text=text, phone=phone, consent=bool(phone))
    return file_complaint(engine, link, form, LATER, SETTINGS)
