"""Cadres outside the org file: added from the CLI, sent away, removed, invited by link."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import routing
from storage.models import NOT_YET_SEEN, ROLE_CADRE, Cadre, CadreInvite, Region, Topic, User

INVITE_PREFIX = "cadre-"


class CadreError(ValueError):
    """A cadre operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class CadreRow:
    """One line of ``voy cadre list``."""

    cadre: Cadre
    open_load: int


async def _regions_topics(
    session: AsyncSession, regions: list[str], topics: list[str]
) -> tuple[list[Region], list[Topic]]:
    found_regions = [r for code in regions if (r := await session.get(Region, code))]
    found_topics = [t for code in topics if (t := await session.get(Topic, code))]
    unknown = (set(regions) - {r.code for r in found_regions}) | (
        set(topics) - {t.code for t in found_topics}
    )
    if unknown:
        raise CadreError(f"unknown region or topic codes: {sorted(unknown)}")
    return found_regions, found_topics


async def _grant_role(session: AsyncSession, telegram_id: int, name: str, locale: str) -> None:
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if user is None:
        session.add(
            User(
                telegram_id=telegram_id,
                first_name=name,
                language_code=NOT_YET_SEEN,
                locale=locale,
                roles=[ROLE_CADRE],
            )
        )
    elif not user.has_role(ROLE_CADRE):
        user.roles = sorted({*(user.roles or []), ROLE_CADRE})


async def add(
    session: AsyncSession,
    *,
    telegram_id: int,
    name: str,
    regions: list[str],
    topics: list[str],
    duty_days: list[int],
    capacity: int,
    source: str,
    locale: str,
) -> Cadre:
    """Add (or re-activate and update) a cadre."""
    if not 1 <= capacity <= 1000 or any(not 1 <= d <= 7 for d in duty_days):
        raise CadreError("capacity must be 1-1000 and duty days 1-7 (Monday = 1)")
    found_regions, found_topics = await _regions_topics(session, regions, topics)
    cadre = await session.scalar(select(Cadre).where(Cadre.telegram_id == telegram_id))
    fields = {
        "name": name[:128],
        "duty_days": sorted(set(duty_days)),
        "capacity": capacity,
        "active": True,
        "away_until": None,
        "source": source,
        "regions": found_regions,
        "topics": found_topics,
    }
    if cadre is None:
        cadre = Cadre(telegram_id=telegram_id, **fields)
        session.add(cadre)
    else:
        for key, value in fields.items():
            setattr(cadre, key, value)
    await _grant_role(session, telegram_id, name, locale)
    await session.flush()
    return cadre


async def listing(session: AsyncSession) -> list[CadreRow]:
    """Every cadre with their open load."""
    loads = await routing.open_loads(session)
    cadres = await session.scalars(select(Cadre).order_by(Cadre.active.desc(), Cadre.name))
    return [CadreRow(cadre, loads.get(cadre.id, 0)) for cadre in cadres]


async def _get(session: AsyncSession, telegram_id: int) -> Cadre:
    cadre = await session.scalar(select(Cadre).where(Cadre.telegram_id == telegram_id))
    if cadre is None:
        raise CadreError(f"no cadre with Telegram id {telegram_id}")
    return cadre


async def set_away(session: AsyncSession, *, telegram_id: int, until: datetime | None) -> Cadre:
    """Mark a cadre away until ``until`` (None: back now); routing skips them meanwhile.

    Raises:
        CadreError: no such cadre, or one removed (routing skips them whatever this says).
    """
    cadre = await _get(session, telegram_id)
    if not cadre.active:
        raise CadreError(f"cadre {cadre.name} ({telegram_id}) is removed; add them again first")
    cadre.away_until = until
    return cadre


async def remove(session: AsyncSession, *, telegram_id: int) -> Cadre:
    """Deactivate a cadre (their history stays) and take the cadre role away."""
    cadre = await _get(session, telegram_id)
    cadre.active = False
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if user is not None:
        user.roles = [role for role in user.roles or [] if role != ROLE_CADRE]
    return cadre


async def invite(
    session: AsyncSession,
    *,
    name: str,
    regions: list[str],
    topics: list[str],
    duty_days: list[int],
    capacity: int,
    now: datetime,
    valid_for: timedelta,
) -> str:
    """Create a one-time invite; return the deep-link payload (``/start <payload>``)."""
    await _regions_topics(session, regions, topics)
    token = INVITE_PREFIX + secrets.token_urlsafe(18)
    session.add(
        CadreInvite(
            token=token,
            name=name[:128],
            regions=regions,
            topics=topics,
            duty_days=sorted(set(duty_days)),
            capacity=capacity,
            expires_at=now + valid_for,
        )
    )
    await session.flush()
    return token


async def redeem(session: AsyncSession, *, token: str, user: User, now: datetime) -> Cadre:
    """Make ``user`` the cadre an invite describes; an invite works once, before it expires."""
    found = await session.scalar(
        select(CadreInvite).where(CadreInvite.token == token).with_for_update()
    )
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise CadreError("invalid, used or expired invite")
    found.used_at, found.used_by = now, user.telegram_id
    return await add(
        session,
        telegram_id=user.telegram_id,
        name=found.name,
        regions=list(found.regions),
        topics=list(found.topics),
        duty_days=list(found.duty_days),
        capacity=found.capacity,
        source="invite",
        locale=user.locale,
    )
