"""Good answers become FAQ: a cadre answers with an entry, or turns an answer into one."""

from __future__ import annotations

import html
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import html_to_plain
from bot.services import lifecycle, questions
from bot.services.data_rights import PURGED
from bot.services.privacy import MASK_KINDS, mask_personal_data
from knowledge import store
from knowledge.entries import EntryData
from knowledge.index import EntryView, KnowledgeIndex
from storage.faq import SOURCE_CADRE
from storage.models import User
from storage.questions import Question

# An entry made from question N has the slug ``cadre-qN``.
PROMOTED_PREFIX = "cadre-q"


class UrgentNotLearned(questions.NotAllowed):
    """An urgent question (a call for help): its words never become FAQ."""


class NothingToLearn(questions.NotAllowed):
    """The question was withdrawn, or its text or answer erased (/forget, retention)."""


class AlreadyAnswered(questions.NotAllowed):
    """The FAQ already answers the question on its own: a new entry would never be
    reached (the matcher keeps answering with ``slug``)."""

    def __init__(self, question_id: int, slug: str) -> None:
        """Name the entry that answers it."""
        super().__init__(question_id)
        self.slug = slug


async def answer_with_entry(
    session: AsyncSession,
    *,
    question_id: int,
    user: User,
    entry_id: int,
    index: KnowledgeIndex,
    now: datetime,
) -> tuple[Question, EntryView]:
    """Answer the question with an FAQ entry's answer."""
    await index.refresh(session)
    entry = index.entry_by_id(entry_id)
    if entry is None:
        raise questions.NotAllowed(entry_id)
    # The thread keeps plain text, as typed answers are (the young person gets the
    # entry's HTML itself).
    text = html_to_plain(entry.answer, keep_links=True)
    question = await questions.answer(
        session, question_id=question_id, user=user, text=text, now=now
    )
    return question, entry


def _first_answer(question: Question) -> str | None:
    """The answer to the question itself (later ones answer follow-ups)."""
    return next((m.text for m in question.thread if m.author == "cadre"), None)


async def promote(
    session: AsyncSession,
    *,
    question_id: int,
    user: User,
    entry_id: int | None,
    index: KnowledgeIndex,
    mask_labels: dict[str, str],
    now: datetime,
) -> str:
    """Teach the FAQ from an answered question; return the entry's id.

    With ``entry_id``, the question becomes another phrasing of that entry; without, a
    new entry is made from the question and its first answer (later answers answer
    follow-ups, other questions). The question's text is masked first: personal data
    never enters the FAQ.

    Raises:
        UrgentNotLearned: the question was a call for help (safeguarding).
        NothingToLearn: the question was withdrawn, or its text or answer was erased.
        AlreadyAnswered: (a new entry) the FAQ already answers the question by itself;
            (a phrasing) the entry already has it.
        questions.NotAllowed: the user may not act on it, or it has no answer yet.
    """
    question = await questions.staff_question(session, question_id=question_id, user=user, now=now)
    if question.urgent:
        raise UrgentNotLearned(question_id)
    answer = _first_answer(question)
    if answer is None:
        raise questions.NotAllowed(question_id)
    if question.status == lifecycle.WITHDRAWN or PURGED in (question.text, answer):
        raise NothingToLearn(question_id)
    assert set(mask_labels) >= set(MASK_KINDS)
    text = mask_personal_data(question.text, mask_labels)[:200]
    by = questions.actor_of(user, await questions.get_cadre(session, user))
    if entry_id is not None:
        await index.refresh(session)
        entry = index.entry_by_id(entry_id)
        if entry is None:
            raise questions.NotAllowed(entry_id)
        # The source question is named so /forget can find its wording here.
        added = await store.add_phrasing(
            session,
            slug=entry.slug,
            text=text,
            source=SOURCE_CADRE,
            created_by=f"{by}:q{question.id}",
        )
        if not added:  # known already (pressed twice, say): nothing was taught
            raise AlreadyAnswered(question_id, entry.slug)
        return entry.slug
    # A question the FAQ already answers by itself (the young person asked for a person
    # anyway): a second entry with it would never be reached, the first keeps winning.
    found = await index.match(session, text, regions=())
    if found.band == "answer" and found.top is not None:
        raise AlreadyAnswered(question_id, found.top.entry_id)
    slug = f"{PROMOTED_PREFIX}{question.id}"
    # A cadre's answer is plain text; the FAQ stores Telegram HTML.
    # The answer is masked too: a cadre may have quoted the young person's details.
    await store.import_entries(
        session,
        [
            EntryData(
                id=slug,
                question=text,
                answer=html.escape(mask_personal_data(answer, mask_labels), quote=False),
                topic=question.topic,
            )
        ],
        changed_by=by,
    )
    return slug
