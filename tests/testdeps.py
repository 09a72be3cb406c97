"""What some tests need beyond Python, installed by deploy/testdeps.sh (which `make test` runs).

Without it a test skips, unless the tests run as root: deploy/testdeps.sh
then installs it, so its absence is a broken set-up and the test fails
rather than passing for want of running.
"""
from __future__ import annotations

import os
import shutil

import pytest

IS_ROOT = os.geteuid() == 0


def missing(what: str) -> None:
    """Skip (not root) or fail (root) because `what`, which deploy/testdeps.sh installs, is not there."""
    if IS_ROOT:
        pytest.fail(f"{what} is missing; as root it must be there: run `bash deploy/testdeps.sh`")
    pytest.skip(f"{what} is not installed (`sudo bash deploy/testdeps.sh` installs it)")


def require(tool: str) -> str:
    """The command's path; see `missing` for when it is not there."""
    path = shutil.which(tool)
    if path is None:
        missing(tool)
    return path


def qr_decoder():
    """pyzbar's `decode`, which needs Debian's libzbar0; see `missing` for when it is not there."""
    try:
        from pyzbar.pyzbar import decode
    except ImportError as exc:   # the Python package (the [dev] extra) or the C library
        missing(f"the QR decoder ({exc}; pyzbar with Debian's libzbar0)")
    return decode
