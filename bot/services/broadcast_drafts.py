"""Writing a broadcast: a ``transitions`` machine over the steps (text, regions, topics,
preview). The step lives per chat in the ``conversations`` table and the draft itself in
its ``broadcasts`` row, so a restart in the middle resumes where it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from transitions import Machine

from bot.i18n import utf16_units
from bot.services import broadcasts, org
from bot.services.wish_drafts import WrongInput  # a step refuses input as a wish draft does
from storage.broadcasts import Broadcast
from storage.models import Region, Topic, User
from storage.questions import Conversation

KIND = "broadcast_draft"
TEXT, REGIONS, TOPICS, PREVIEW = "text", "regions", "topics", "preview"
STEPS = (TEXT, REGIONS, TOPICS, PREVIEW)
# The "every region" and "any topic" choices (an empty selection means the same).
ALL = "all"
# Room for the footer: Telegram allows 4096 characters after entity parsing (counted here
# in UTF-16 units, never fewer), and
# the longest footer, with the blank line, takes far less than the 596 left.
MAX_TEXT_UNITS = 3500

_TRANSITIONS: list[Any] = [
    {"trigger": "written", "source": TEXT, "dest": REGIONS},
    {"trigger": "next", "source": REGIONS, "dest": TOPICS},
    {"trigger": "next", "source": TOPICS, "dest": PREVIEW},
    {"trigger": "edit", "source": PREVIEW, "dest": TEXT},
]
MACHINE = Machine(
    model=None, states=list(STEPS), transitions=_TRANSITIONS, initial=TEXT, auto_transitions=False
)


@dataclass
class Draft:
    """The chat's draft: its step and its broadcast row."""

    chat_id: int
    step: str
    broadcast: Broadcast


def _move(draft: Draft, trigger: str) -> None:
    found = MACHINE.get_transitions(trigger=trigger, source=draft.step)
    if not found:
        raise WrongInput("broadcast.stale_step")
    draft.step = found[0].dest or draft.step


async def start(session: AsyncSession, *, user: User, chat_id: int, now: datetime) -> Draft:
    """Begin a broadcast (replacing any other pending step in this chat).

    Raises:
        broadcasts.NotAllowed: ``user`` is not a committee admin.
    """
    if not broadcasts.is_admin(user):
        raise broadcasts.NotAllowed(user.id)
    previous = await load(session, chat_id)
    if previous is not None and previous.broadcast.state == broadcasts.DRAFT:
        broadcasts.fire(previous.broadcast, "cancel")
    broadcast = Broadcast(
        author_user_id=user.id,
        text="",
        region_codes=[],
        topic_codes=[],
        state=broadcasts.DRAFT,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    draft = Draft(chat_id, TEXT, broadcast)
    await save(session, draft, now=now)
    return draft


async def load(session: AsyncSession, chat_id: int) -> Draft | None:
    """The chat's draft, if a broadcast is being written there."""
    row = await session.get(Conversation, chat_id)
    if row is None or row.kind != KIND:
        return None
    data = dict(row.data or {})
    broadcast = await session.get(Broadcast, int(data.get("broadcast_id", 0)))
    if broadcast is None:
        return None
    return Draft(chat_id, str(data.get("step", TEXT)), broadcast)


async def save(session: AsyncSession, draft: Draft, *, now: datetime) -> None:
    """Store the step (the broadcast row holds the rest)."""
    row = await session.get(Conversation, draft.chat_id) or Conversation(chat_id=draft.chat_id)
    row.kind = KIND
    row.data = {"step": draft.step, "broadcast_id": draft.broadcast.id}
    row.updated_at = now
    session.add(row)
    await session.flush()


async def end(session: AsyncSession, chat_id: int) -> None:
    """Stop the conversation (the broadcast row stays)."""
    row = await session.get(Conversation, chat_id)
    if row is not None and row.kind == KIND:
        await session.delete(row)
        await session.flush()


async def cancel(session: AsyncSession, chat_id: int) -> bool:
    """Drop the chat's draft; return whether there was one."""
    draft = await load(session, chat_id)
    if draft is None:
        return False
    if draft.broadcast.state == broadcasts.DRAFT:
        broadcasts.fire(draft.broadcast, "cancel")
    await end(session, chat_id)
    return True


async def idle(session: AsyncSession, *, now: datetime, after: timedelta) -> list[int]:
    """The chats whose broadcast draft nobody touched for ``after``."""
    return list(
        await session.scalars(
            select(Conversation.chat_id).where(
                Conversation.kind == KIND, Conversation.updated_at <= now - after
            )
        )
    )


async def orphaned(session: AsyncSession, *, now: datetime, after: timedelta) -> list[Broadcast]:
    """Cancel the broadcasts still in draft, begun ``after`` ago or more, that no chat is
    writing any more (the author's chat went on to something else: /wish, a card's
    button); return them, so their authors can be told."""
    drafts = list(
        await session.scalars(
            select(Broadcast).where(
                Broadcast.state == broadcasts.DRAFT, Broadcast.created_at <= now - after
            )
        )
    )
    if not drafts:
        return []
    written = {
        int((data or {}).get("broadcast_id", 0))
        for data in await session.scalars(
            select(Conversation.data).where(Conversation.kind == KIND)
        )
    }
    left = [broadcast for broadcast in drafts if broadcast.id not in written]
    for broadcast in left:
        broadcasts.fire(broadcast, "cancel")
    await session.flush()
    return left


def give_text(draft: Draft, text: str) -> None:
    """The announcement's text, at the text step; raise :class:`WrongInput`."""
    if draft.step != TEXT:
        raise WrongInput("broadcast.stale_step")
    text = text.strip()
    if not text:
        raise WrongInput("broadcast.ask_text")
    if utf16_units(text) > MAX_TEXT_UNITS:
        raise WrongInput("broadcast.too_long", limit=MAX_TEXT_UNITS, length=utf16_units(text))
    draft.broadcast.text = text
    _move(draft, "written")


def _toggled(selected: list[str], code: str) -> list[str]:
    if code == ALL:
        return []
    return sorted(set(selected) ^ {code})


async def toggle_region(session: AsyncSession, draft: Draft, code: str) -> None:
    """Add or remove a region ("all" clears the selection: every region)."""
    if draft.step != REGIONS:
        raise WrongInput("broadcast.stale_step")
    if code != ALL and code not in await org.all_region_codes(session):
        raise WrongInput("broadcast.stale_step")
    draft.broadcast.region_codes = _toggled(list(draft.broadcast.region_codes or []), code)


async def toggle_topic(session: AsyncSession, draft: Draft, code: str) -> None:
    """Add or remove a topic ("any" clears the selection: a general announcement)."""
    if draft.step != TOPICS:
        raise WrongInput("broadcast.stale_step")
    if code != ALL and code not in await org.topic_codes(session):
        raise WrongInput("broadcast.stale_step")
    draft.broadcast.topic_codes = _toggled(list(draft.broadcast.topic_codes or []), code)


def next_step(draft: Draft, from_step: str) -> None:
    """Go on from the regions or topics step (a button of another step is stale)."""
    if draft.step != from_step or from_step not in (REGIONS, TOPICS):
        raise WrongInput("broadcast.stale_step")
    _move(draft, "next")


def edit(draft: Draft) -> None:
    """From the preview, write the text again (the choices are kept)."""
    if draft.step != PREVIEW:
        raise WrongInput("broadcast.stale_step")
    _move(draft, "edit")


async def parent_of(session: AsyncSession, code: str) -> str | None:
    """The region above ``code`` (None at the top, or for no region)."""
    region = await session.get(Region, code)
    return region.parent_code if region is not None else None


async def region_options(session: AsyncSession) -> list[tuple[Region, int]]:
    """The grid in tree order with each region's depth; a single top region (the city)
    is left out, as "all regions" stands for it."""
    root = await org.picker_root(session)
    children: dict[str | None, list[Region]] = {}
    for region in await session.scalars(select(Region).order_by(Region.position, Region.code)):
        children.setdefault(region.parent_code, []).append(region)
    options: list[tuple[Region, int]] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for region in children.get(parent, []):
            if region.code not in seen:  # the guard stops a cyclic grid
                seen.add(region.code)
                options.append((region, depth))
                walk(region.code, depth + 1)

    walk(root.code if root else None, 0)
    return options


async def topics(session: AsyncSession) -> list[Topic]:
    """The organisation's topics in their order."""
    return list(await session.scalars(select(Topic).order_by(Topic.position, Topic.code)))
