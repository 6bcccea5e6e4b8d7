"""Who answers a question: the grid (青情地图), topics, duty days, load and rotation.

Cadres who cover the question's region (or a region above it) and its topic are eligible,
unless away or inactive. Among them: today's duty rotation (接访日) first, then the
lowest open load under capacity, then whoever was given a question longest ago (round
robin). Nobody fits: the question waits in the committee's pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.lifecycle import OPEN_FOR_STAFF
from bot.services.org import region_chain
from storage.models import Cadre, User
from storage.questions import Question

# The directory reads of every routed question, built once (building a statement cost
# more than running it; issue 7's load benchmark).
_OPEN_LOADS = (
    select(Question.assigned_cadre_id, func.count(Question.id))
    .where(Question.status.in_(OPEN_FOR_STAFF), Question.assigned_cadre_id.is_not(None))
    .group_by(Question.assigned_cadre_id)
)
_LAST_ASSIGNED = (
    select(Question.assigned_cadre_id, func.max(Question.assigned_at))
    .where(Question.assigned_cadre_id.is_not(None))
    .group_by(Question.assigned_cadre_id)
)
_REACHABLE = select(User.telegram_id).where(
    User.unreachable_at.is_(None), User.telegram_id.in_(bindparam("ids", expanding=True))
)
_ACTIVE_CADRES = select(Cadre).where(Cadre.active.is_(True)).order_by(Cadre.id)


async def open_loads(session: AsyncSession) -> dict[int, int]:
    """Return each cadre's number of open assigned questions."""
    rows = await session.execute(_OPEN_LOADS)
    return {cadre_id: int(count) for cadre_id, count in rows.all() if cadre_id is not None}


async def last_assigned(session: AsyncSession) -> dict[int, datetime]:
    """Return when each cadre was last given a question."""
    rows = await session.execute(_LAST_ASSIGNED)
    return {
        cadre_id: when
        for cadre_id, when in rows.all()
        if cadre_id is not None and when is not None
    }


def covers(cadre: Cadre, *, regions: tuple[str, ...], topic: str | None) -> bool:
    """Whether ``cadre`` covers a question in ``regions`` (its chain) on ``topic``."""
    if regions and not {r.code for r in cadre.regions} & set(regions):
        return False
    return topic is None or topic in {t.code for t in cadre.topics}


def available(cadre: Cadre, now: datetime) -> bool:
    """Active, and not away now."""
    return cadre.active and (cadre.away_until is None or cadre.away_until <= now)


async def reachable(session: AsyncSession, telegram_ids: Iterable[int]) -> set[int]:
    """Those of ``telegram_ids`` Telegram still delivers to (not blocked, not gone).

    Asked only about the given people: reading every reachable user cost a row per
    registered young person on each routed question.
    """
    wanted = set(telegram_ids)
    if not wanted:
        return set()
    return set(await session.scalars(_REACHABLE, {"ids": sorted(wanted)}))


async def eligible_cadres(
    session: AsyncSession, *, region_code: str | None, topic: str | None, now: datetime
) -> list[Cadre]:
    """Every available cadre covering the region (or a region above it) and topic."""
    regions = await region_chain(session, region_code)
    cadres = list(await session.scalars(_ACTIVE_CADRES))
    ok = await reachable(session, (c.telegram_id for c in cadres))
    return [
        c
        for c in cadres
        if available(c, now) and c.telegram_id in ok and covers(c, regions=regions, topic=topic)
    ]


async def choose_cadre(
    session: AsyncSession,
    *,
    region_code: str | None,
    topic: str | None,
    now: datetime,
    tz: ZoneInfo,
    exclude: frozenset[int] = frozenset(),
    urgent: bool = False,
) -> Cadre | None:
    """Pick the cadre for a question, or None for the committee's pool; a call for help
    (``urgent``) goes to a person whatever their load: one with room if anyone has it
    (before the cadre on duty: the first answer is what counts), else the usual pick."""
    candidates = [
        c
        for c in await eligible_cadres(session, region_code=region_code, topic=topic, now=now)
        if c.id not in exclude
    ]
    if not candidates:
        return None
    loads = await open_loads(session)
    if not urgent:
        candidates = [c for c in candidates if loads.get(c.id, 0) < c.capacity]
    if not candidates:
        return None
    weekday = now.astimezone(tz).isoweekday()
    recent = await last_assigned(session)
    never = datetime.min.replace(tzinfo=now.tzinfo)

    def rank(cadre: Cadre) -> tuple[int, int, int, datetime, int]:
        full = 0 if loads.get(cadre.id, 0) < cadre.capacity else 1  # only urgent: 0 else
        on_duty = 0 if weekday in (cadre.duty_days or []) else 1
        return (full, on_duty, loads.get(cadre.id, 0), recent.get(cadre.id, never), cadre.id)

    return min(candidates, key=rank)
