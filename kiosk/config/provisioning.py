"""What provisioning received from the centre (centre.yaml), laid over the technician's config.yaml."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config.errors import ConfigError
from kiosk.config.files import absolute, read_yaml
from kiosk.config.storage import SyncSettings

PROVISIONED_FILE = "centre.yaml"


def _provisioned_path(raw: dict[str, Any], base: Path) -> Path:
    sync = raw.get("sync")
    if not isinstance(sync, dict):
        sync = {}                           # validation names a bad `sync`; here the default folder will do
    return absolute(Path(str(sync.get("state_dir", SyncSettings().state_dir))), base) / PROVISIONED_FILE


def with_provisioning(raw: dict[str, Any], base: Path,
                      centre: dict[str, Any] | None = None) -> tuple[dict[str, Any], Path | None]:
    """Overlay what provisioning received from the centre (device id, unit, counter, staff, citizen links).

    The centre owns those keys once a terminal is enrolled, the unit's and the counter's names in both
    languages included; the technician's config.yaml keeps everything else, and its staff roster while
    the centre sends none (an empty one). The file is written atomically by
    `evaluator provision`, so it is either the old or the new one.
    """
    path = _provisioned_path(raw, base)
    if centre is None and not path.is_file():
        return raw, None
    overlay = centre if centre is not None else read_yaml(path)
    merged = dict(raw)
    for key in ("device", "unit", "counter", "sync", "citizen"):
        if isinstance(overlay.get(key), dict):
            found = merged.get(key)
            local: dict[str, Any] = found if isinstance(found, dict) else {}
            merged[key] = {**local, **overlay[key], **_english_name(overlay[key], local)}
    if "staff" in overlay and overlay["staff"] != []:      # an empty roster is none: config.yaml's stays
        merged["staff"] = _centre_staff(overlay["staff"], raw.get("staff"), path.parent)
    return merged, path


def _english_name(centre: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """The English name when the centre names a unit or counter without one: config.yaml's only if it names
    the same place (the same `name`), else the centre's `name`, never a name left from another place."""
    if "name" not in centre or "name_en" in centre:
        return {}
    if local.get("name") == centre["name"] and local.get("name_en"):
        return {"name_en": local["name_en"]}
    return {"name_en": centre["name"]}


def _centre_staff(centre: Any, local: Any, state_dir: Path) -> Any:
    """The centre's roster. Its photos are files next to centre.yaml (sync.provision writes them); a member it
    sends without a photo keeps the one config.yaml gives the same 工号, so local photos survive enrollment."""
    if not isinstance(centre, list):
        return centre                       # validation names the problem
    local_photos = {member.get("id"): member["photo"] for member in (local if isinstance(local, list) else [])
                    if isinstance(member, dict) and isinstance(member.get("id"), str) and member.get("photo")}
    staff = []
    for member in centre:
        if isinstance(member, dict) and isinstance(member.get("photo"), str):
            member = {**member, "photo": str(state_dir / member["photo"])}
        elif isinstance(member, dict) and isinstance(member.get("id"), str) and member["id"] in local_photos:
            member = {**member, "photo": local_photos[member["id"]]}
        staff.append(member)
    return staff


# The links the centre sends for the citizen's QR codes (sync/provision.py writes them under `citizen`): the
# questionnaire's carries a token that expires, so the centre sends a new one before it does, and the waiting
# screen must show it without a restart. Read again only when centre.yaml changes (its mtime and size).
_links_seen: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def centre_links(state_dir: Path) -> dict[str, Any]:
    """The `citizen` part of centre.yaml as it is now ({} without one, or when it cannot be read)."""
    path = state_dir / PROVISIONED_FILE
    try:
        stat = path.stat()
    except OSError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size)
    seen = _links_seen.get(path)
    if seen is not None and seen[0] == stamp:
        return seen[1]
    try:
        overlay = read_yaml(path)
    except ConfigError:   # written atomically, so only a broken disk: the links known before keep serving
        return seen[1] if seen is not None else {}
    citizen = overlay.get("citizen") if isinstance(overlay, dict) else None
    links = citizen if isinstance(citizen, dict) else {}
    _links_seen[path] = (stamp, links)
    return links
