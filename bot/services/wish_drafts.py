"""The wish submission conversation: a ``transitions`` machine over the steps, with the
draft and its step stored per chat in the ``conversations`` table, so a restart in the
middle resumes where it was. Wrong input re-asks the same step; nothing resets."""

from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from transitions import Machine

from bot.services.amounts import parse_yuan
from storage.questions import Conversation

KIND = "wish_draft"
# The "not specified" choice at the area step.
NO_REGION = "none"
# The longest a wish's text may be (with a caption added at the photo step).
TEXT_LIMIT = 300

WHAT, PHOTO, CATEGORY, FOR_WHOM, RELATION, AGE, CONSENT = (
    "what",
    "photo",
    "category",
    "for_whom",
    "relation",
    "age",
    "consent",
)
REGION, PLACE, VALUE, REVIEW = "region", "place", "value", "review"
STEPS = (WHAT, PHOTO, CATEGORY, FOR_WHOM, RELATION, AGE, CONSENT, REGION, PLACE, VALUE, REVIEW)

CATEGORIES = ("study", "books", "sports", "daily", "other")
BENEFICIARIES = ("self", "child", "other")
AGE_BANDS = ("u10", "10-13", "14-17", "18p")
UNDER_14 = ("u10", "10-13")
# Fields a young person can go back and change from the review screen.
EDITABLE = (WHAT, PHOTO, CATEGORY, FOR_WHOM, AGE, REGION, PLACE, VALUE)

_TRANSITIONS: list[Any] = [
    {"trigger": "with_photo", "source": WHAT, "dest": CATEGORY},
    {"trigger": "text_only", "source": WHAT, "dest": PHOTO},
    {"trigger": "done", "source": PHOTO, "dest": CATEGORY},
    {"trigger": "done", "source": CATEGORY, "dest": FOR_WHOM},
    {"trigger": "someone_else", "source": FOR_WHOM, "dest": RELATION},
    {"trigger": "done", "source": [FOR_WHOM, RELATION], "dest": AGE},
    {"trigger": "child_under_14", "source": AGE, "dest": CONSENT},
    {"trigger": "done", "source": [AGE, CONSENT], "dest": REGION},
    {"trigger": "done", "source": REGION, "dest": PLACE},
    {"trigger": "done", "source": PLACE, "dest": VALUE},
    {"trigger": "done", "source": VALUE, "dest": REVIEW},
    # Editing one field from the review screen, and coming back to it.
    {"trigger": "edit", "source": REVIEW, "dest": None},
    {"trigger": "back_to_review", "source": list(STEPS), "dest": REVIEW},
]
MACHINE = Machine(
    model=None, states=list(STEPS), transitions=_TRANSITIONS, initial=WHAT, auto_transitions=False
)


class WrongInput(ValueError):
    """The input does not fit the step; ``key`` names the catalog text to re-ask with."""

    def __init__(self, key: str, **params: object) -> None:
        """Keep what to say."""
        super().__init__(key)
        self.key, self.params = key, params


@dataclass
class Draft:
    """The draft being written and the step it is at."""

    chat_id: int
    step: str
    fields: dict[str, Any]
    editing: bool = False

    @property
    def needs_consent(self) -> bool:
        """A child under 14: a guardian must agree before the wish can be submitted."""
        return self.fields.get("age_band") in UNDER_14


def _next(draft: Draft, trigger: str) -> None:
    if draft.editing and draft.step != REVIEW and trigger in ("done", "with_photo", "text_only"):
        # After changing one field, go back to the review unless the change opens a step
        # that still needs answering (a relation, or a guardian's consent).
        pending = _follow_up_step(draft)
        if pending is None:
            draft.step, draft.editing = REVIEW, False
            return
        draft.step = pending
        return
    transitions = MACHINE.get_transitions(trigger=trigger, source=draft.step)
    if not transitions:
        raise RuntimeError(f"wish draft: no {trigger} from {draft.step}")
    draft.step = transitions[0].dest or draft.step


def _follow_up_step(draft: Draft) -> str | None:
    if draft.step == FOR_WHOM and draft.fields.get("beneficiary") == "other":
        return RELATION if not draft.fields.get("relation") else None
    if draft.step == AGE and draft.needs_consent and not draft.fields.get("guardian_consent"):
        return CONSENT
    return None


async def load(session: AsyncSession, chat_id: int) -> Draft | None:
    """The chat's draft, if one is being written."""
    row = await session.get(Conversation, chat_id)
    if row is None or row.kind != KIND:
        return None
    data = dict(row.data or {})
    return Draft(
        chat_id, data.get("step", WHAT), dict(data.get("fields", {})), bool(data.get("editing"))
    )


async def save(session: AsyncSession, draft: Draft, *, now: datetime) -> None:
    """Store the draft (it survives restarts); refresh its idle clock."""
    row = await session.get(Conversation, draft.chat_id) or Conversation(chat_id=draft.chat_id)
    row.kind = KIND
    row.data = {
        "step": draft.step,
        "fields": draft.fields,
        "editing": draft.editing,
        "reminded": False,
    }
    row.updated_at = now
    session.add(row)
    await session.flush()


async def start(
    session: AsyncSession, *, chat_id: int, region_code: str | None, now: datetime
) -> Draft:
    """Begin a new draft (replacing any other pending step in this chat)."""
    draft = Draft(chat_id, WHAT, {"region_code": region_code, SERIAL: new_serial()})
    await save(session, draft, now=now)
    return draft


# Each draft has its own serial, carried by its review screen's buttons: an old review
# screen (of a wish submitted, or a draft cancelled, long ago) cannot submit or cancel
# the draft being written now.
SERIAL = "serial"


def new_serial() -> str:
    """A fresh draft serial."""
    return secrets.token_hex(4)


def serial(draft: Draft) -> str:
    """The draft's serial ("0" for a draft stored before drafts had one)."""
    return str(draft.fields.get(SERIAL) or "0")


def give_text(draft: Draft, text: str, *, max_value: int) -> None:
    """Apply a text answer to the current step, or raise :class:`WrongInput`."""
    text = text.strip()
    if draft.step == WHAT:
        if not 2 <= len(text) <= TEXT_LIMIT:
            raise WrongInput("wish.ask_what_again")
        draft.fields["text"] = text
        _next(draft, "text_only" if not draft.fields.get("photo_file_id") else "with_photo")
    elif draft.step == RELATION:
        if not 1 <= len(text) <= 64:
            raise WrongInput("wish.ask_relation")
        draft.fields["relation"] = text
        _next(draft, "done")
    elif draft.step == PLACE:
        if len(text) > 128:
            raise WrongInput("wish.ask_place")
        draft.fields["place"] = text
        _next(draft, "done")
    elif draft.step == VALUE:
        # Digits or Chinese numerals, with a unit or a hedge ("300元", "大概一百块吧").
        amount = parse_yuan(text)
        if amount is None or not 1 <= amount <= max_value:
            raise WrongInput("wish.value_out_of_range", cap=max_value)
        draft.fields["value_yuan"] = amount
        _next(draft, "done")
    else:
        raise WrongInput(f"wish.ask_{draft.step}", cap=max_value)


def give_photo(draft: Draft, file_id: str, caption: str | None) -> None:
    """Apply a photo: at the first step (with a caption as the text) or the photo step."""
    if draft.step == WHAT:
        if not caption or not 2 <= len(caption.strip()) <= TEXT_LIMIT:
            raise WrongInput("wish.ask_what_again")
        draft.fields["text"] = caption.strip()
        draft.fields["photo_file_id"] = file_id
        _next(draft, "with_photo")
    elif draft.step == PHOTO:
        # A caption here says more about the wish: it joins the text, if both fit.
        added = (caption or "").strip()
        if added and not draft.editing:  # changing the photo later adds nothing again
            text = f"{draft.fields.get('text', '')}\n{added}"
            if len(text) > TEXT_LIMIT:
                raise WrongInput("wish.caption_too_long", limit=TEXT_LIMIT)
            draft.fields["text"] = text
        draft.fields["photo_file_id"] = file_id
        _next(draft, "done")
    else:
        raise WrongInput(f"wish.ask_{draft.step}")


def choose(
    draft: Draft, step: str, value: str, *, known_regions: frozenset[str] = frozenset()
) -> None:
    """Apply a button choice for ``step``; a button of another step is stale, and an
    area must be one of ``known_regions`` (or "not specified")."""
    if step != draft.step:
        raise WrongInput(f"wish.ask_{draft.step}")
    if step == PHOTO and value == "skip":
        draft.fields["photo_file_id"] = None
        _next(draft, "done")
    elif step == CATEGORY and value in CATEGORIES:
        draft.fields["category"] = value
        _next(draft, "done")
    elif step == FOR_WHOM and value in BENEFICIARIES:
        draft.fields["beneficiary"] = value
        if value != "other":
            draft.fields["relation"] = None
        _next(draft, "someone_else" if value == "other" and not draft.editing else "done")
    elif step == AGE and value in AGE_BANDS:
        draft.fields["age_band"] = value
        draft.fields.setdefault("guardian_consent", False)
        if value not in UNDER_14:
            draft.fields["guardian_consent"] = False
        _next(draft, "child_under_14" if value in UNDER_14 and not draft.editing else "done")
    elif step == CONSENT and value in ("yes", "no"):
        draft.fields["guardian_consent"] = value == "yes"
        _next(draft, "done")
    elif step == REGION and (value == NO_REGION or value in known_regions):
        draft.fields["region_code"] = None if value == NO_REGION else value
        _next(draft, "done")
    elif step == PLACE and value == "skip":
        draft.fields["place"] = None
        _next(draft, "done")
    else:
        raise WrongInput(f"wish.ask_{draft.step}")


def edit(draft: Draft, field: str) -> None:
    """From the review screen, go back to one field."""
    if draft.step != REVIEW or field not in EDITABLE:
        raise WrongInput(f"wish.ask_{draft.step}")
    draft.step, draft.editing = field, True


def ready(draft: Draft) -> bool:
    """Whether the draft may be submitted (a child's wish needs the guardian's consent)."""
    return draft.step == REVIEW and (
        not draft.needs_consent or bool(draft.fields.get("guardian_consent"))
    )


def text_mark(draft: Draft) -> str:
    """A short checksum of the draft's text, carried by the "I meant to ask" button so an
    old button cannot take a newer draft's text."""
    return _mark(str(draft.fields.get("text", "")))


# A text typed at a step answered by buttons is kept here, so "ask it" can ask it.
ASIDE = "aside"
# The review screen too: its buttons submit, change or cancel.
BUTTON_STEPS = frozenset({PHOTO, CATEGORY, FOR_WHOM, AGE, CONSENT, REGION, REVIEW})


def _mark(text: str) -> str:
    return format(zlib.crc32(text.encode()), "08x")


def set_aside(draft: Draft, text: str) -> str:
    """Keep a text typed where a button was expected (it may be a question meant for the
    bot), whole: asking it checks its length as any question's. Return the mark an "ask
    it" button carries. Only the newest is kept."""
    draft.fields[ASIDE] = text
    return _mark(text)


def take_aside(draft: Draft, mark: str) -> str | None:
    """The kept text, if ``mark`` is its mark (an older button's is not), dropped from the
    draft; None otherwise."""
    text = draft.fields.get(ASIDE)
    if not isinstance(text, str) or _mark(text) != mark:
        return None
    del draft.fields[ASIDE]
    return text


async def withdraw_text(session: AsyncSession, draft: Draft, mark: str) -> str | None:
    """Drop ``draft`` if its text was meant as a question (it is at the step right after
    the text, and its text is the one the button was shown for); return that text, or
    None if the draft has gone on since."""
    text = draft.fields.get("text")
    if draft.step != PHOTO or draft.editing or not text or text_mark(draft) != mark:
        return None
    await cancel(session, draft.chat_id)
    return str(text)


async def cancel(session: AsyncSession, chat_id: int) -> bool:
    """Drop the draft; return whether there was one."""
    row = await session.get(Conversation, chat_id)
    if row is None or row.kind != KIND:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def idle(
    session: AsyncSession, *, now: datetime, remind_after: timedelta, expire_after: timedelta
) -> tuple[list[Conversation], list[Conversation]]:
    """Drafts to remind (idle, not yet reminded) and drafts to expire (idle too long)."""
    rows = list(
        await session.scalars(
            select(Conversation).where(
                Conversation.kind == KIND, Conversation.updated_at <= now - remind_after
            )
        )
    )
    expire = [r for r in rows if r.updated_at <= now - expire_after]
    remind = [r for r in rows if r not in expire and not (r.data or {}).get("reminded")]
    return remind, expire
