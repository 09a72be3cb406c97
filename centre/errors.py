"""Typed refusals shared by the HTTP layer and the CLI; `status` is the HTTP answer."""
from __future__ import annotations


class CollectorError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(CollectorError):
    status = 422


class NotAuthenticated(CollectorError):
    status = 401


class Forbidden(CollectorError):
    status = 403


class NotFound(CollectorError):
    status = 404


class Gone(CollectorError):
    status = 410
