"""The personal data access log: every time staff are shown a young person's personal data.

Callers record a row in the same session (so the same transaction) as the card or reply
that shows the data; a card that is never scheduled is never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.privacy import PersonalDataAccess

# Why staff saw the data.
IDENTITY_SHARED_CARD = "identity_shared_card"  # a question card with the asker's name
IDENTITY_SHARED_URGENT = "identity_shared_urgent"  # an urgent card with the asker's name
WISH_REVIEW = "wish_review"  # a reviewer's card of a submitted wish
WISH_CLAIM = "wish_claim"  # the claimer is shown the wish they took on
WISH_WITHDRAW_REQUEST = "wish_withdraw_request"  # the claimer, asked to let the wish go


async def record(
    session: AsyncSession,
    *,
    viewer_chat_id: int,
    viewer_user_id: int | None,
    subject_user_id: int,
    item: tuple[str, int],
    purpose: str,
    fields: Sequence[str],
    now: datetime,
) -> PersonalDataAccess:
    """Log one showing of ``subject_user_id``'s data (flushed, not committed).

    Args:
        viewer_chat_id: where it was shown (a staff member's chat or the committee group).
        viewer_user_id: the staff member's user id; None for a group.
        subject_user_id: whose data it was.
        item: what it was about, e.g. ``("question", 12)``.
        purpose: why, one of the constants of this module.
        fields: which personal fields were shown, e.g. ``["first_name"]``.
        now: when.
    """
    row = PersonalDataAccess(
        viewer_chat_id=viewer_chat_id,
        viewer_user_id=viewer_user_id,
        subject_user_id=subject_user_id,
        item_kind=item[0],
        item_id=item[1],
        purpose=purpose,
        fields=list(fields),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def of_subject(
    session: AsyncSession, subject_user_id: int, *, limit: int | None = None
) -> list[PersonalDataAccess]:
    """Who was shown this person's data, oldest first."""
    query = (
        select(PersonalDataAccess)
        .where(PersonalDataAccess.subject_user_id == subject_user_id)
        .order_by(PersonalDataAccess.created_at, PersonalDataAccess.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))
