"""The centre's part of this terminal's config: enrollment and later refreshes.

`evaluator provision` enrolls with a one-time code and writes two files into
`sync.state_dir`, never into config.yaml: the device key (device.json, 0600)
and the centre's part of the config (centre.yaml: device id, unit, counter,
staff roster, server), which `kiosk.config.load` overlays on config.yaml.
The sync worker refreshes centre.yaml from `GET /v1/config` with an ETag.
Every write replaces the file atomically, and only with a config that
validates together with config.yaml: a bad push from the centre never
leaves a terminal that cannot start. Staff photos sent with the roster are
written to `sync.state_dir/photos/` first, named by their content, so
centre.yaml never names a file that is not there; the previous config's
photos stay until the next change (the running terminal still shows them).
"""
from __future__ import annotations

import enum
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from contract import DeviceConfig, EnrollResponse, decode_photo
from kiosk import __version__
from kiosk.config import PROVISIONED_FILE, ConfigError, CounterSettings, Settings, StaffMember, UnitSettings, load
from kiosk.files import write_private
from kiosk.rating.access import AccessFile
from sync.client import (
    AuthError,
    CentreClient,
    Credentials,
    ProtocolError,
    SyncError,
    TransientError,
    enrollment_client,
)

log = logging.getLogger(__name__)

ConfigPath = str | os.PathLike[str]
"""Where config.yaml is, as `kiosk.config.load` takes it."""

ETAG_FILE = "centre.etag"
# The citizen links the centre may send with the counter (DeviceConfig.counter): a terminal's citizen.* keys.
CENTRE_LINKS = ("questionnaire_url", "complaint_url", "receipt_url")
PHOTO_DIR = "photos"     # in sync.state_dir, next to centre.yaml, whose staff[].photo paths are relative to it


class ConfigRejected(SyncError):
    """The centre's config does not validate with this terminal's config.yaml; the old one stays."""


class ProvisionProblem(str, enum.Enum):
    """Why enrollment did not happen, in terms a technician acts on. Each names its words once, in the
    screens' catalog (kiosk.screens.texts, "technician.provision_<value>", placeholders {server} and
    {status}): the enroll screen shows them in its language, `evaluator provision` prints the English."""

    BAD_SERVER = "bad_server"           # not an http(s) URL with a host: refused before any call
    BAD_CODE = "bad_code"               # not a code's letters and digits: refused before any call
    UNKNOWN_CODE = "unknown_code"       # 404
    USED_CODE = "used_code"             # 410, already used
    EXPIRED_CODE = "expired_code"       # 410, expired
    UNREACHABLE = "unreachable"         # no answer: address, network, firewall
    NOT_A_CENTRE = "not_a_centre"       # an answer, but not the enrollment API's
    CENTRE_FAULT = "centre_fault"       # the centre failed (5xx, 429): try again later

    @property
    def usage(self) -> bool:
        """What the technician typed or reached is wrong (exit 2), rather than the centre failing (exit 1)."""
        return self is not ProvisionProblem.CENTRE_FAULT


class ProvisionError(SyncError):
    """Enrollment refused or impossible; `problem` says why, `values` fill its texts."""

    def __init__(self, problem: ProvisionProblem, detail: str, server: str, status: int | None = None):
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.values = {"server": server, "status": "—" if status is None else str(status)}


# Codes are typed from a sheet; the screen's keyboard upper-cases them, so the command line does too.
CODE_FORMAT = re.compile(r"[A-Z0-9]{6,64}")
_ANSWER = re.compile(r"^POST /v1/enroll: HTTP (\d{3}): (.*)$", re.DOTALL)   # sync.client's refusal message


def checked_server(server: str) -> str:
    """The centre's base URL without its trailing slash; ProvisionError unless http(s) with a host."""
    text = server.strip()
    try:
        parts = urlsplit(text)
        ok = (parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
              and not parts.query and not parts.fragment and not any(c.isspace() for c in text))
    except ValueError:      # a port that is not a number
        ok = False
    if not ok:
        raise ProvisionError(ProvisionProblem.BAD_SERVER, f"{text[:80]!r} is not an http:// or https:// URL "
                             "with a host", text[:80])
    return text.rstrip("/")


def checked_code(code: str, server: str) -> str:
    """The code as the centre stores it (upper case); ProvisionError unless 6–64 letters and digits."""
    text = code.strip().upper()
    if not CODE_FORMAT.fullmatch(text):
        raise ProvisionError(ProvisionProblem.BAD_CODE, f"{code[:80]!r} is not 6–64 letters and digits", server)
    return text


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    credentials_path: Path
    config_path: Path
    changes: tuple[str, ...] = field(default=())    # what enrolling changed on this terminal, one line each


def provision(settings: Settings, server: str, code: str, config_path: ConfigPath | None = None) -> Provisioned:
    """Enroll with `code`; `config_path` is the config.yaml the new centre.yaml must validate with.

    The URL and the code are checked before any call; every refusal is a ProvisionError naming its problem.
    """
    sync = settings.sync
    server = checked_server(server)
    code = checked_code(code, server)
    answer = _enroll(enrollment_client(sync, server), code)
    credentials = Credentials(server=server, device_id=answer.device_id, secret=answer.secret)
    part = centre_part(credentials, answer.config)
    after = _check(config_path, part.overlay)
    credentials_path = credentials.save(sync.state_dir)
    written = _apply(sync.state_dir, part)
    AccessFile(sync.state_dir).set_centre_pins(centre_pins(answer.config))
    (sync.state_dir / ETAG_FILE).unlink(missing_ok=True)   # the next pull fetches the whole config
    return Provisioned(answer.device_id, credentials_path, written,
                       changes(settings, after, roster_sent=bool(answer.config.staff)))


def _enroll(client: CentreClient, code: str) -> EnrollResponse:
    try:
        return client.enroll(code, __version__)
    except (TransientError, ProtocolError, AuthError) as exc:
        raise _refusal(exc, client.server) from None
    except ValueError as exc:       # an answer that is not JSON, or not an EnrollResponse
        raise ProvisionError(ProvisionProblem.NOT_A_CENTRE, f"not an enrollment answer: {exc}"[:300],
                             client.server) from None
    finally:
        client.close()


def _refusal(exc: SyncError, server: str) -> ProvisionError:
    """The problem behind a failed enrollment call: docs/sync-protocol.md names the centre's answers."""
    answer = _ANSWER.match(str(exc))
    if answer is None:
        return ProvisionError(ProvisionProblem.UNREACHABLE, str(exc), server)
    status, detail = int(answer[1]), answer[2].lower()
    if status == 404 and "code" in detail:
        problem = ProvisionProblem.UNKNOWN_CODE
    elif status == 410:
        problem = ProvisionProblem.EXPIRED_CODE if "expired" in detail else ProvisionProblem.USED_CODE
    elif status == 422:
        problem = ProvisionProblem.BAD_CODE
    elif isinstance(exc, TransientError):
        problem = ProvisionProblem.CENTRE_FAULT
    else:                           # 404 for the path itself, 405, 401 from a proxy…: something else answered
        problem = ProvisionProblem.NOT_A_CENTRE
    return ProvisionError(problem, str(exc), server, status)


def changes(before: Settings, after: Settings, roster_sent: bool) -> tuple[str, ...]:
    """What enrolling changed, one line each: unit, counter, staff roster, server."""
    lines = [_change("unit", _place(before.unit), _place(after.unit)),
             _change("counter", _place(before.counter), _place(after.counter))]
    if roster_sent:
        lines.append(f"staff: {len(before.staff)} member(s) → {len(after.staff)} from the centre (replaced)")
    else:
        lines.append(f"staff: {len(after.staff)} member(s) kept (the centre sent no roster)")
    lines.append(_change("server", before.sync.server or "none", after.sync.server or "none"))
    return tuple(lines)


def _place(part: UnitSettings | CounterSettings) -> str:
    names = part.name if part.name == part.name_en else f"{part.name} / {part.name_en}"
    return f"{part.id} ({names})"


def _change(what: str, old: str, new: str) -> str:
    return f"{what}: {new} (unchanged)" if old == new else f"{what}: {old} → {new}"


def refresh_config(client: CentreClient, credentials: Credentials, state_dir: Path,
                   config_path: ConfigPath | None) -> bool:
    """Pull the centre's config; True when a new one was applied (the terminal uses it from its next start)."""
    etag_path = state_dir / ETAG_FILE
    current = _current_overlay(state_dir)
    # A photo file lost here (a full disk, a technician's cleanup) is fetched again, though the config is unchanged.
    lost = any(not (state_dir / PHOTO_DIR / name).is_file() for name in _photo_names(current))
    etag = etag_path.read_text(encoding="ascii").strip() if etag_path.is_file() and not lost else None
    config, new_etag = client.config(etag)
    if config is None:
        return False
    part = centre_part(credentials, config)
    changed = lost or current != part.overlay
    if changed:
        _check(config_path, part.overlay)
        _apply(state_dir, part)
    AccessFile(state_dir).set_centre_pins(centre_pins(config))   # PINs may change with the roster unchanged
    if new_etag:
        write_private(etag_path, new_etag.encode("ascii"))
    return changed


@dataclass(frozen=True)
class CentrePart:
    """What a config from the centre becomes on this terminal: centre.yaml's content and the photos it names."""

    overlay: dict[str, Any]
    photos: dict[str, bytes]        # file name in PHOTO_DIR → the image


def centre_part(credentials: Credentials, config: DeviceConfig) -> CentrePart:
    photos: dict[str, bytes] = {}
    staff = []
    for member in config.staff:
        # Only keys this terminal knows: a newer centre may send more. PIN hashes go to access.yaml
        # (kiosk.rating.access), never into a config file; a photo goes to its own file.
        entry = {k: v for k, v in member.items() if k in StaffMember.model_fields and k != "photo"}
        name = _roster_photo(member, photos)
        if name is not None:
            entry["photo"] = f"{PHOTO_DIR}/{name}"
        staff.append(entry)
    overlay = {
        "device": {"id": credentials.device_id},
        "unit": {k: v for k, v in config.unit.items() if k in UnitSettings.model_fields},
        "counter": {k: v for k, v in config.counter.items() if k in CounterSettings.model_fields},
        "staff": staff,
        "sync": {"server": credentials.server},
    }
    links = {key: config.counter[key] for key in CENTRE_LINKS if isinstance(config.counter.get(key), str)}
    if links:
        overlay["citizen"] = links
    return CentrePart(overlay, photos)


def _roster_photo(member: dict[str, Any], photos: dict[str, bytes]) -> str | None:
    """The file name the member's photo gets (added to `photos`); None for none or a bad one: the silhouette."""
    text = member.get("photo")
    if text is None:
        return None
    try:
        if not isinstance(text, str):
            raise ValueError("is not a base64 string")
        data, kind = decode_photo(text)
    except ValueError as exc:
        # The roster still applies: one bad photo must not keep the other changes from the counter.
        log.warning("staff %r: the photo from the centre %s; the card shows the silhouette", member.get("id"), exc)
        return None
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{kind}"    # by content: a changed photo is a new file
    photos[name] = data
    return name


def centre_pins(config: DeviceConfig) -> dict[str, str]:
    return {member["id"]: member["pin_hash"] for member in config.staff
            if isinstance(member.get("id"), str) and isinstance(member.get("pin_hash"), str)}


def _check(config_path: ConfigPath | None, overlay: dict[str, Any]) -> Settings:
    try:
        return load(config_path, centre=overlay)
    except ConfigError as exc:
        raise ConfigRejected(f"the centre's config does not fit this terminal, kept the old one: {exc}") from None


def _apply(state_dir: Path, part: CentrePart) -> Path:
    """Photos first, then centre.yaml that names them; then drop photos neither it nor the one before names."""
    folder = state_dir / PHOTO_DIR
    for name, data in part.photos.items():
        write_private(folder / name, data)
    keep = set(part.photos) | _photo_names(_current_overlay(state_dir))
    text = "# Written by `evaluator provision` and the sync worker; the centre owns these keys.\n" + \
        yaml.safe_dump(part.overlay, allow_unicode=True, sort_keys=True)
    written = write_private(state_dir / PROVISIONED_FILE, text.encode("utf-8"))
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
    return written


def _current_overlay(state_dir: Path) -> Any:
    current = state_dir / PROVISIONED_FILE
    return yaml.safe_load(current.read_text(encoding="utf-8")) if current.is_file() else None


def _photo_names(overlay: Any) -> set[str]:
    staff = overlay.get("staff") if isinstance(overlay, dict) else None
    return {Path(member["photo"]).name for member in staff or []
            if isinstance(member, dict) and isinstance(member.get("photo"), str)}
