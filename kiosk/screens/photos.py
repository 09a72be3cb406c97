"""Staff photos for the card: which file the screen may draw, and why not. No Kivy.

A photo comes from config.yaml (`staff[].photo`) or with the centre's roster
(sync.provision writes it into the state folder). Either way the same rules
as on the wire (contract): a JPEG or PNG file of at most
MAX_PHOTO_BYTES. A photo that breaks them is logged once, and the card shows
the neutral silhouette: a counter never loses its screen over a picture.
"""
from __future__ import annotations

import logging
from pathlib import Path

from contract import photo_size_problem, photo_type

log = logging.getLogger(__name__)


def photo_problem(path: Path) -> str | None:
    """Why `path` cannot be a staff photo, or None. Reads the size and the first bytes only."""
    try:
        with path.open("rb") as file:
            size = path.stat().st_size
            head = file.read(16)
    except FileNotFoundError:
        return "file not found"
    except IsADirectoryError:
        return "is a folder, not an image"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    problem = photo_size_problem(size)
    if problem is None and photo_type(head) is None:
        problem = "is not a JPEG or PNG image"
    return problem


class PhotoChecker:
    """Checks each photo once (the card is redrawn on every view change) and logs each problem once."""

    def __init__(self) -> None:
        self._checked: dict[Path, bool] = {}

    def usable(self, staff_id: str, path: Path | None) -> str:
        """The file to draw for this member; empty for the silhouette."""
        if path is None:
            return ""
        if path not in self._checked:
            problem = photo_problem(path)
            if problem is not None:
                log.warning("staff %s: photo %s: %s; the card shows the silhouette", staff_id, path, problem)
            self._checked[path] = problem is None
        return str(path) if self._checked[path] else ""
