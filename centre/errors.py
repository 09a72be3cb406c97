"""Typed refusals shared by the HTTP layer and the CLI; `status` is the HTTP answer."""
from __future__ import annotations


class CentreError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(CentreError):
    status = 422


class NotAuthenticated(CentreError):
    status = 401


class Forbidden(CentreError):
    status = 403


class NotFound(CentreError):
    status = 404


class Gone(CentreError):
    status = 410
