"""People: registration on first contact, locale, region and roles."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Text, bindparam, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.i18n import resolve_locale
from bot.services import outbox
from storage.base import utcnow
from storage.db import insert_for
from storage.models import NOT_YET_SEEN, Region, User

# last_seen_at is refreshed at most this often: writing it on every update cost an
# UPDATE per message (issue 7 load benchmark); a minute is precise enough for "last seen".
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class UnknownRegion(LookupError):
    """Raised when a region code is not in the organisation's grid."""


# Built once: every update looks its sender up (building a statement costs more than
# running this one).
_BY_TELEGRAM_ID = select(User).where(User.telegram_id == bindparam("telegram_id"))


async def get_by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    """Return the user with this Telegram id, if they have written before."""
    return await session.scalar(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})


async def with_role(session: AsyncSession, *roles: str) -> list[User]:
    """The people holding any of ``roles`` (staff: a few among many young people)."""
    # Roles are a JSON list; its text narrows the scan on both backends, has_role decides.
    text = cast(User.roles, Text)
    found = await session.scalars(
        select(User).where(or_(*(text.like(f'%"{role}"%') for role in roles))).order_by(User.id)
    )
    return [user for user in found if any(user.has_role(role) for role in roles)]


async def touch(
    session: AsyncSession,
    *,
    telegram_id: int,
    first_name: str,
    language_code: str | None,
    default_locale: str,
    private: bool = True,
) -> tuple[User, bool]:
    """Register or refresh a user on any update; return the user and whether this is
    their first contact (a new row, or a row made for them before they ever wrote: staff
    from the org file, who then get their Telegram language as anyone new does).

    A user who wrote again after blocking the bot is reachable again. ``private``: the
    update came from their private chat with the bot (or from no chat), not a group.
    """
    language_code = language_code[:16] if language_code else None
    user = await get_by_telegram_id(session, telegram_id)
    created = False
    if user is None:
        # Two first messages at once: the other one's row wins, quietly.
        new_id = await session.scalar(
            insert_for(session)(User)
            .values(
                telegram_id=telegram_id,
                first_name=first_name[:128],
                language_code=language_code,
                locale=resolve_locale(language_code, default_locale),
                roles=[],
                private_since=utcnow() if private else None,
            )
            .on_conflict_do_nothing(index_elements=[User.telegram_id])
            .returning(User.id)
        )
        created = new_id is not None
        user = await get_by_telegram_id(session, telegram_id)
        assert user is not None
    changed = False
    first_contact = created or user.language_code == NOT_YET_SEEN
    if private and user.private_since is None:  # first written to the bot in private
        user.private_since = utcnow()
        changed = True
    if first_contact and not created:
        user.locale = resolve_locale(language_code, default_locale)
        changed = True
    if not created and private and user.unreachable_at is not None:
        # Back after blocking the bot: what bounced meanwhile about their matters goes again.
        await outbox.revive(session, chat_id=telegram_id, now=utcnow())
    if not created:
        # Assigned only when different: an update from someone known, as nearly all are,
        # then costs no flush at all (issue 7's load benchmark).
        for name, value in (
            ("first_name", first_name[:128]),
            ("language_code", language_code),
            ("unreachable_at", None),
        ):
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed = True
    now = utcnow()
    if created or user.last_seen_at is None or now - user.last_seen_at >= LAST_SEEN_RESOLUTION:
        user.last_seen_at = now
        changed = True
    if changed:
        await session.flush()
    return user, first_contact


async def set_locale(session: AsyncSession, *, user: User, locale: str) -> None:
    """Change the user's locale; unknown locales are refused."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    user.locale = locale
    await session.flush()


async def set_region(session: AsyncSession, *, user: User, region_code: str) -> Region:
    """Set the user's region; raise :class:`UnknownRegion` if the grid has no such region."""
    region = await session.get(Region, region_code)
    if region is None:
        raise UnknownRegion(region_code)
    user.region_code = region.code
    await session.flush()
    return region


async def mark_unreachable(session: AsyncSession, *, telegram_id: int) -> None:
    """Record that Telegram refused delivery to this user (blocked or deleted)."""
    user = await get_by_telegram_id(session, telegram_id)
    if user is not None and user.unreachable_at is None:
        user.unreachable_at = utcnow()
        await session.flush()
