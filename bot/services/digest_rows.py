"""The week's items as rows for the digest's CSV: ids, times, states and codes, no text.

No free text leaves the database this way (no question, wish, name or department), so
the file holds nothing personal; young people appear only by ticket or wish number and
cadres by their staff id (``cadre:3``, as in the audit log). Calls for help are left
out (the summary counts them): a row of its own, however neutral, would single one out.
So are the questions routed because the concern model found their first words close to
one (reason ``possible_concern``, also counted in the summary).
Hours to the first answer count from routing, as in the summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.questions import POSSIBLE_CONCERN
from storage.questions import Question, QuestionEvent
from storage.wishes import Wish

COLUMNS = (
    "kind",
    "id",
    "created",
    "state",
    "region",
    "topic",
    "cadre",
    "first_answer_hours",
    "reason",
    "escalations",
)


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


async def week_rows(
    session: AsyncSession, *, start: datetime, end: datetime, tz: ZoneInfo
) -> Iterator[tuple[object, ...]]:
    """Questions asked and wishes submitted in ``[start, end)``, in the order of COLUMNS."""
    routed = (
        select(func.min(QuestionEvent.created_at))
        .where(QuestionEvent.question_id == Question.id, QuestionEvent.trigger == "route")
        .correlate(Question)
        .scalar_subquery()
    )
    questions = await session.execute(
        select(
            Question.id,
            Question.asked_at,
            Question.status,
            Question.region_code,
            Question.topic,
            Question.assigned_cadre_id,
            Question.first_answered_at,
            routed,
            Question.reason,
            Question.escalations,
        )
        .where(
            Question.asked_at >= start,
            Question.asked_at < end,
            Question.urgent.is_(False),
            or_(Question.reason.is_(None), Question.reason != POSSIBLE_CONCERN),
        )
        .order_by(Question.id)
    )
    rows: list[tuple[object, ...]] = []
    for (
        qid,
        asked,
        status,
        region,
        topic,
        cadre,
        first,
        since,
        reason,
        escalations,
    ) in questions:
        hours = f"{(first - (since or asked)).total_seconds() / 3600:.2f}" if first else ""
        rows.append(
            (
                "question",
                qid,
                _local(asked, tz),
                status,
                region or "",
                topic or "",
                f"cadre:{cadre}" if cadre else "",
                hours,
                reason or "",
                escalations,
            )
        )
    wishes = await session.execute(
        select(Wish.id, Wish.submitted_at, Wish.status, Wish.region_code, Wish.category)
        .where(Wish.submitted_at >= start, Wish.submitted_at < end)
        .order_by(Wish.id)
    )
    for wid, submitted, status, region, category in wishes:
        rows.append(
            ("wish", wid, _local(submitted, tz), status, region or "", category, "", "", "", "")
        )
    return iter(rows)
