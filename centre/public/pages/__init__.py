"""The citizen pages: one module per page (or family of pages), each adding its routes to web.router when
imported. `register` imports every module here, so a new page is a new module, its template and its texts."""
from __future__ import annotations

import importlib
import pkgutil


def register() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
