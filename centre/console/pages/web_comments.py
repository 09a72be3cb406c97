"""The web questionnaire's answers (issue #18), newest first, for the viewer's units in the page's period: the
level, the reasons, the citizen's text and its flag (spam, abuse, a link, a repeated character). A flagged
text is shown flagged, never hidden: the centre keeps every answer. No number is shown here (a number left
for a call-back is the case's, seen only by the caller role); no address is ever stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from centre.console.web import PeriodParam, SignedIn, engine_of, render, router
from centre.db.public_tables import web_ratings
from contract import iso_utc

SHOWN = 200


@dataclass(frozen=True)
class Comment:
    submitted_at: str
    unit_id: str
    counter_id: str | None
    level: int
    reasons: tuple[str, ...]
    text: str
    flag: str | None


@router.get("/web-ratings")
def web_comments(request: Request, viewer: SignedIn, period: PeriodParam) -> Response:
    flagged_only = request.query_params.get("flagged") == "1"
    # The period's local days, widened by a day each side to cover every zone; the city's zone is UTC+8.
    start = iso_utc(datetime.combine(period.start - timedelta(days=1), time(), UTC))
    end = iso_utc(datetime.combine(period.end + timedelta(days=2), time(), UTC))
    query = select(web_ratings).where(web_ratings.c.submitted_at >= start, web_ratings.c.submitted_at < end)
    with engine_of(request).connect() as conn:
        units = viewer.unit_ids(conn)
        if units is not None:
            query = query.where(web_ratings.c.unit_id.in_(units))
        if flagged_only:
            query = query.where(web_ratings.c.flag.is_not(None))
        rows = conn.execute(query.order_by(web_ratings.c.submitted_at.desc()).limit(SHOWN)).mappings().all()
    comments = [Comment(row["submitted_at"][:16].replace("T", " "), row["unit_id"], row["counter_id"], row["level"],
                        tuple(row["reasons"] or ()), row["text"], row["flag"]) for row in rows]
    return render(request, "web_comments.html", {"comments": comments, "period": period, "flagged_only": flagged_only,
                                                 "shown": SHOWN})
