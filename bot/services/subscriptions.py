"""What a young person chose to receive: topics they follow and the announcements opt-out.

The default, for someone who never opened /subscribe, is to receive general
announcements for their region and no topic-targeted ones (they follow no topic yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox
from bot.services.broadcasts import OUTBOX_KIND as BROADCAST_KIND
from storage.broadcasts import AnnouncementPreference, Subscription
from storage.models import Topic, User


class UnknownTopic(LookupError):
    """Raised for a topic code the organisation does not have."""


@dataclass(frozen=True)
class SubscriptionView:
    """Everything /subscribe shows: the topics, which are followed, and the opt-out."""

    topics: list[Topic]
    followed: frozenset[str]
    opted_out: bool


async def view(session: AsyncSession, user: User) -> SubscriptionView:
    """The user's current choices."""
    topics = list(await session.scalars(select(Topic).order_by(Topic.position, Topic.code)))
    followed = frozenset(
        await session.scalars(
            select(Subscription.topic_code).where(Subscription.user_id == user.id)
        )
    )
    preference = await session.get(AnnouncementPreference, user.id)
    return SubscriptionView(topics, followed, bool(preference and preference.opted_out))


async def set_topic(
    session: AsyncSession, *, user: User, topic_code: str, follow: bool, now: datetime
) -> SubscriptionView:
    """Follow the topic, or stop following it (nothing if already so); raise
    :class:`UnknownTopic`."""
    if await session.get(Topic, topic_code) is None:
        raise UnknownTopic(topic_code)
    existing = await session.get(Subscription, (user.id, topic_code))
    if existing is None and follow:
        session.add(Subscription(user_id=user.id, topic_code=topic_code, created_at=now))
    elif existing is not None and not follow:
        await session.execute(
            delete(Subscription).where(
                Subscription.user_id == user.id, Subscription.topic_code == topic_code
            )
        )
        session.expunge(existing)
    await session.flush()
    return await view(session, user)


async def set_opted_out(
    session: AsyncSession, *, user: User, opted_out: bool, now: datetime
) -> SubscriptionView:
    """Turn all announcements off (``opted_out``) or back on."""
    preference = await session.get(AnnouncementPreference, user.id)
    if preference is None:
        preference = AnnouncementPreference(user_id=user.id)
        session.add(preference)
    preference.opted_out, preference.updated_at = opted_out, now
    if opted_out:  # an announcement still queued for them (quiet hours, the rate) too
        await outbox.cancel_to(session, recipient=user.telegram_id, kinds=[BROADCAST_KIND])
    await session.flush()
    return await view(session, user)
