"""The FAQ store in the database: import, export, learning new phrasings, history."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from knowledge.entries import EntryData
from knowledge.lint import LintIssue, answer_issues, unknown_topic
from storage.faq import SOURCE_IMPORT, FaqEntry, FaqPhrasing, FaqRevision
from storage.models import OrgSetting

# Bumped on every change, so every process knows to rebuild its matcher.
KB_VERSION_KEY = "kb_version"

# Counts this process's bumps of the version, once when made and once when committed:
# a live index re-reads the version at once after either, instead of at its next
# periodic check. The second count matters when another session read the old version
# in between (concurrent updates); the first, when the bump is rolled back after this
# session's own reads saw it.
_local_bumps = 0
_COMMIT_COUNTED = "knowledge.store.bump_counted_on_commit"


def local_bumps() -> int:
    """How many bumps of the KB version this process has made or committed so far."""
    return _local_bumps


def _count_bump(session: Session | None = None) -> None:
    global _local_bumps
    _local_bumps += 1
    if session is not None:
        session.info.pop(_COMMIT_COUNTED, None)


class InvalidEntries(ValueError):
    """Raised when entries would break the bot (their answers cannot be sent)."""

    def __init__(self, issues: list[LintIssue]) -> None:
        """Keep the issues; the message lists them."""
        super().__init__("\n".join(map(str, issues)))
        self.issues = issues


class UnknownTopics(ValueError):
    """Raised when active entries name topics the organisation does not have: questions
    asked from them would be offered to no cadre."""

    def __init__(self, topics: dict[str, list[str]]) -> None:
        """Keep the entries' ids by unknown topic; the message has a line per topic."""
        super().__init__("\n".join(_topic_line(topic, ids) for topic, ids in topics.items()))
        self.topics = topics


def _topic_line(topic: str, ids: list[str]) -> str:
    shown = ", ".join(ids[:10]) + (", …" if len(ids) > 10 else "")
    return f"topic {topic!r}: {len(ids)} {'entry' if len(ids) == 1 else 'entries'} ({shown})"


@dataclass
class ImportReport:
    """What an import changed."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    deactivated: list[str] = field(default_factory=list)


def _same_text(a: str, b: str) -> bool:
    return "".join(a.split()).lower() == "".join(b.split()).lower()


async def bump_version(session: AsyncSession) -> int:
    """Increase the knowledge base version; return the new value."""
    _count_bump()
    sync_session = session.sync_session
    if not sync_session.info.get(_COMMIT_COUNTED):
        sync_session.info[_COMMIT_COUNTED] = True
        event.listen(sync_session, "after_commit", _count_bump, once=True)
    # Locked and re-read, so a concurrent import in another process cannot be lost.
    setting = await session.get(
        OrgSetting, KB_VERSION_KEY, with_for_update=True, populate_existing=True
    )
    if setting is None:
        setting = OrgSetting(key=KB_VERSION_KEY, value=0)
        session.add(setting)
    setting.value = int(setting.value or 0) + 1
    await session.flush()
    return int(setting.value)


async def current_version(session: AsyncSession) -> int:
    """Return the knowledge base version (0 for an empty store)."""
    setting = await session.get(OrgSetting, KB_VERSION_KEY)
    return int(setting.value) if setting is not None else 0


async def _record(session: AsyncSession, entry: FaqEntry, *, changed_by: str, note: str) -> None:
    await session.flush()
    session.add(
        FaqRevision(
            entry_id=entry.id,
            version=entry.version,
            snapshot=entry.snapshot(),
            changed_by=changed_by,
            note=note[:256],
        )
    )


async def import_entries(
    session: AsyncSession,
    entries: list[EntryData],
    *,
    changed_by: str,
    deactivate_missing: bool = False,
    known_topics: Collection[str] | None = None,
) -> ImportReport:
    """Create or update entries by id; each change is a new version with a revision row.

    Args:
        known_topics: the organisation's topic codes, to check the active entries'
            topics against (None: not checked). A question asked from an entry takes its
            topic, and only cadres of that topic are offered it.

    Raises:
        InvalidEntries: an answer is empty, not valid Telegram HTML, or too long; nothing
            is imported then.
        UnknownTopics: an active entry names a topic not in ``known_topics``; nothing is
            imported then.
    """
    issues = answer_issues(entries)
    if issues:
        raise InvalidEntries(issues)
    if known_topics is not None:
        unknown: dict[str, list[str]] = {}
        for data in entries:
            if data.topic is not None and unknown_topic(data, known_topics):
                unknown.setdefault(data.topic, []).append(data.id)
        if unknown:
            raise UnknownTopics(unknown)
    changed_by = changed_by[:128]
    report = ImportReport()
    existing = {e.slug: e for e in await session.scalars(select(FaqEntry))}
    for data in entries:
        entry = existing.get(data.id)
        if entry is None:
            entry = FaqEntry(
                slug=data.id,
                question=data.question,
                answer=data.answer,
                topic=data.topic,
                tags=list(data.tags),
                region=data.region,
                active=data.active,
                updated_by=changed_by,
                phrasings=[
                    FaqPhrasing(text=text, source=SOURCE_IMPORT, created_by=changed_by)
                    for text in data.alt_questions
                ],
            )
            session.add(entry)
            await _record(session, entry, changed_by=changed_by, note="created")
            report.created.append(data.id)
            continue
        if _content(entry) == data:
            report.unchanged += 1
            continue
        entry.question, entry.answer, entry.topic = data.question, data.answer, data.topic
        entry.tags, entry.region, entry.active = list(data.tags), data.region, data.active
        kept = {p.text: p for p in entry.phrasings}
        entry.phrasings = [
            kept.get(text) or FaqPhrasing(text=text, source=SOURCE_IMPORT, created_by=changed_by)
            for text in dict.fromkeys(data.alt_questions)
        ]
        entry.version += 1
        entry.updated_by = changed_by
        await _record(session, entry, changed_by=changed_by, note="updated")
        report.updated.append(data.id)
    if deactivate_missing:
        listed = {data.id for data in entries}
        for slug, entry in existing.items():
            if slug not in listed and entry.active:
                entry.active = False
                entry.version += 1
                await _record(session, entry, changed_by=changed_by, note="deactivated")
                report.deactivated.append(slug)
    if report.created or report.updated or report.deactivated:
        await bump_version(session)
    return report


def _content(entry: FaqEntry) -> EntryData:
    return EntryData(
        id=entry.slug,
        question=entry.question,
        answer=entry.answer,
        alt_questions=tuple(p.text for p in entry.phrasings),
        topic=entry.topic,
        tags=tuple(entry.tags or ()),
        region=entry.region,
        active=entry.active,
    )


async def export_entries(
    session: AsyncSession, *, include_inactive: bool = True
) -> list[EntryData]:
    """Return every entry (by id order) as plain data."""
    query = select(FaqEntry).order_by(FaqEntry.slug)
    if not include_inactive:
        query = query.where(FaqEntry.active.is_(True))
    return [_content(entry) for entry in await session.scalars(query)]


async def get_entry(session: AsyncSession, slug: str) -> FaqEntry | None:
    """Return the entry with this id."""
    return await session.scalar(select(FaqEntry).where(FaqEntry.slug == slug))


async def add_phrasing(
    session: AsyncSession, *, slug: str, text: str, source: str, created_by: str
) -> bool:
    """Teach an entry a new way of asking it; return False if it was known or unsuitable."""
    entry = await get_entry(session, slug)
    text = text.strip()
    if entry is None or not text or len(text) > 200:
        return False
    if _same_text(text, entry.question) or any(_same_text(text, p.text) for p in entry.phrasings):
        return False
    created_by = created_by[:128]
    entry.phrasings.append(FaqPhrasing(text=text, source=source, created_by=created_by))
    entry.version += 1
    entry.updated_by = created_by
    await _record(session, entry, changed_by=created_by, note=f"phrasing learned ({source})")
    await bump_version(session)
    return True


async def history(session: AsyncSession, slug: str) -> list[FaqRevision]:
    """Return an entry's revisions, oldest first."""
    entry = await get_entry(session, slug)
    if entry is None:
        return []
    return list(
        await session.scalars(
            select(FaqRevision).where(FaqRevision.entry_id == entry.id).order_by(FaqRevision.id)
        )
    )
