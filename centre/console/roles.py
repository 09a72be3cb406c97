"""The console's roles and what each may see and do.

- city office (市纠风办 / 政务服务管理办公室): everything, and the only role that changes anything;
- district office: its district's units, and the call-backs the city gives it (cases issue);
- unit manager: its own unit; never a citizen's number, nor anything that identifies a complainant;
- auditor: reads everything, the audit log included, and changes nothing.

A viewer's reach is a registry scope (centre/scopes.py), asked of the registry at each request, as an API
token's is: a unit moved to another district is seen by its new district from then on.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Connection

from centre import indicators, scopes
from centre.errors import Forbidden


class Role(str, Enum):
    CITY = "city"
    DISTRICT = "district"
    UNIT = "unit"
    AUDITOR = "auditor"

    @property
    def needs_scope(self) -> bool:
        """A district office names its district, a unit manager its unit; the others see the city."""
        return self in (Role.DISTRICT, Role.UNIT)


@dataclass(frozen=True)
class Viewer:
    """The signed-in account of a request."""

    user_id: int
    name: str
    role: Role
    scope_id: str | None     # the district id (as text) or the unit id, for the roles that need one
    csrf: str                # the session's token, which every form and htmx request carries back

    @property
    def scope(self) -> scopes.Scope:
        if self.role is Role.DISTRICT and self.scope_id is not None:
            return scopes.Scope(districts=(int(self.scope_id),))
        if self.role is Role.UNIT and self.scope_id is not None:
            return scopes.Scope(units=(self.scope_id,))
        return scopes.CITY

    @property
    def sees_city(self) -> bool:
        return self.role in (Role.CITY, Role.AUDITOR)

    @property
    def may_change(self) -> bool:
        """Only the city office changes anything: accounts, the round, acceptance checks."""
        return self.role is Role.CITY

    @property
    def sees_audit_log(self) -> bool:
        return self.role in (Role.CITY, Role.AUDITOR)

    def unit_ids(self, conn: Connection) -> tuple[str, ...] | None:
        """The units this viewer sees now (None: every unit)."""
        return scopes.unit_ids(conn, self.scope)

    def require_unit(self, conn: Connection, unit_id: str) -> None:
        """403 for a unit outside the viewer's reach, the same whether or not the unit exists."""
        if not scopes.covers(conn, self.scope, unit_id):
            raise Forbidden(f"{self.name} may not see unit {unit_id!r}")

    def require_district(self, district_id: int) -> None:
        if self.role is Role.UNIT or (self.role is Role.DISTRICT and self.scope_id != str(district_id)):
            raise Forbidden(f"{self.name} may not see district {district_id}")

    def require_city(self) -> None:
        """For the city-wide views a district or a unit does not get (another district's figures, all units)."""
        if not self.sees_city:
            raise Forbidden(f"{self.name} sees only {self.role.value} {self.scope_id}, not the whole city")

    def require_change(self) -> None:
        if not self.may_change:
            raise Forbidden(f"{self.name} ({self.role.value}) may not change anything here")


def figures_scope(conn: Connection, viewer: Viewer) -> indicators.Scope:
    """What the viewer's figures cover: the city, or the units of its district, or its unit."""
    if viewer.sees_city:
        return indicators.CITY
    return indicators.Scope(scopes.describe(conn, viewer.scope), viewer.unit_ids(conn))
