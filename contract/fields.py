"""The shapes of single fields both ends check: what the wire models and the terminal's forms accept."""
from __future__ import annotations

CASE_NO_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
STAFF_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"
# The service item (事项编码) a case belongs to, as the counter link's C frame names it (panel-protocol.md).
ITEM_CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

# A call-back number, digits only: a mainland mobile (1[3-9] + 9 digits), or a landline with its
# area code and a local number that does not start with 0 or 1: 010 and 02x have 8-digit local
# numbers, the 4-digit area codes (0 + 3 digits) 7 or 8.
_MOBILE = r"1[3-9]\d{9}"
_LANDLINE = r"0(?:(?:10|2\d)[2-9]\d{7}|[3-9]\d{2}[2-9]\d{6,7})"
MOBILE_PATTERN = rf"^{_MOBILE}$"
LANDLINE_PATTERN = rf"^{_LANDLINE}$"
PHONE_PATTERN = rf"^(?:{_MOBILE}|{_LANDLINE})$"
