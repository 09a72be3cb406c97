"""The screen's backlight through Linux sysfs (/sys/class/backlight/<device>/brightness).

Knows nothing of the app: find a device, read its range, set a share of it.
Writing needs the file to be writable by the kiosk user: deploy/udev gives
group `video` write access when the device appears.
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

SYSFS_CLASS = Path("/sys/class/backlight")


class BacklightError(OSError):
    """The backlight can't be read or set; the message names the file."""


class Backlight:
    def __init__(self, folder: Path):
        self.folder = folder
        self.maximum = self._read("max_brightness")
        if self.maximum <= 0:
            raise BacklightError(f"{folder / 'max_brightness'}: {self.maximum}, not a usable range")

    @classmethod
    def find(cls, folder: Path | None = None, sysfs_class: Path = SYSFS_CLASS) -> Backlight | None:
        """The configured device, else the first one under `sysfs_class`; None when there is none.

        A configured folder that does not work raises `BacklightError`: the technician asked for it."""
        if folder is not None:
            return cls(folder)
        for candidate in sorted(sysfs_class.glob("*")) if sysfs_class.is_dir() else []:
            try:
                return cls(candidate)
            except BacklightError as exc:
                log.info("backlight %s not usable: %s", candidate, exc)
        return None

    @property
    def level(self) -> float:
        """The current brightness as a share of the maximum."""
        return self._read("brightness") / self.maximum

    def set(self, share: float) -> None:
        """Brightness to `share` (0–1) of the maximum; 0 still gives the lowest non-zero step, so the
        screen never looks switched off."""
        value = max(1, round(min(1.0, max(0.0, share)) * self.maximum))
        path = self.folder / "brightness"
        try:
            path.write_text(f"{value}\n")
        except OSError as exc:
            raise BacklightError(f"{path}: {exc.strerror or exc}") from exc

    def _read(self, name: str) -> int:
        path = self.folder / name
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError) as exc:
            raise BacklightError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc
