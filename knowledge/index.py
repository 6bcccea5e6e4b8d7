"""The live FAQ index: the matcher over the active entries, rebuilt when the KB changes.

Every process compares the store's version with the one it built from before matching,
so an import from another shell (``voy kb import``) is picked up without a restart. It
reads the version at most once per :data:`VERSION_RECHECK_S` (one query per message was
about a tenth of the bot's statements under load): a change made in another process
applies within that time, one made in this process (an answer promoted to the FAQ, a
/forget) at once. A rebuild runs in a worker thread while the previous index keeps
serving; a query waits for it only briefly, so a large KB never stalls the bot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.matcher import Matcher
from knowledge.store import current_version, local_bumps
from knowledge.types import FaqDoc, MatchResult, Thresholds
from storage.faq import FaqEntry

_log = logging.getLogger(__name__)

# How long a query waits for a rebuild in progress before using the previous index.
# Small KBs rebuild well within it, so their changes apply to the very next question.
REBUILD_WAIT_S = 0.5
# How long the version read from the store is trusted before it is read again.
VERSION_RECHECK_S = 1.0


@dataclass(frozen=True)
class EntryView:
    """What the bot needs of an entry to answer with it."""

    id: int
    slug: str
    question: str
    answer: str
    topic: str | None


@dataclass(frozen=True)
class _Built:
    version: int
    matcher: Matcher
    by_slug: dict[str, EntryView]
    by_id: dict[int, EntryView] = field(default_factory=dict)


class KnowledgeIndex:
    """Holds the current matcher; safe to share between concurrent updates."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        """Create an empty index; it is built on first use."""
        self._thresholds = thresholds or Thresholds()
        self._built: _Built | None = None
        self._building: asyncio.Task[None] | None = None
        self._building_version = -1
        # When the store's version was last read and found equal to the built one, and
        # how many local bumps there had been then.
        self._checked_at = float("-inf")
        self._checked_bumps = -1

    @property
    def version(self) -> int | None:
        """The KB version the matcher was built from (None before the first build)."""
        return self._built.version if self._built else None

    async def refresh(self, session: AsyncSession) -> None:
        """Start a rebuild if the store changed; wait for it only as long as needed."""
        now, bumps = time.monotonic(), local_bumps()
        if bumps == self._checked_bumps and now - self._checked_at < VERSION_RECHECK_S:
            return
        version = await current_version(session)
        if self._built is None or self._built.version != version:
            await self._rebuild(session, version)
        if self._built is not None and self._built.version == version:
            self._checked_at, self._checked_bumps = now, bumps

    async def _rebuild(self, session: AsyncSession, version: int) -> None:
        if self._building is None or self._building_version != version:
            rows = list(await session.scalars(select(FaqEntry).where(FaqEntry.active.is_(True))))
            # Plain data only: the task outlives this session.
            docs = [
                FaqDoc(
                    entry_id=row.slug,
                    question=row.question,
                    alt_questions=tuple(p.text for p in row.phrasings),
                    region=row.region,
                )
                for row in rows
            ]
            views = [EntryView(r.id, r.slug, r.question, r.answer, r.topic) for r in rows]
            self._building_version = version
            self._building = asyncio.create_task(self._build(version, docs, views))
        if self._built is None:
            await asyncio.shield(self._building)  # nothing to serve from yet
        else:
            await asyncio.wait({self._building}, timeout=REBUILD_WAIT_S)

    async def _build(self, version: int, docs: list[FaqDoc], views: list[EntryView]) -> None:
        try:
            matcher = await asyncio.to_thread(Matcher, docs, thresholds=self._thresholds)
        except Exception:
            _log.exception("building the knowledge index (version %d) failed", version)
            self._building_version = -1
            raise
        if self._built is None or self._built.version < version:
            self._built = _Built(
                version=version,
                matcher=matcher,
                by_slug={view.slug: view for view in views},
                by_id={view.id: view for view in views},
            )
            _log.info("knowledge index built: %d entries, version %d", len(docs), version)

    async def match(
        self,
        session: AsyncSession,
        text: str,
        *,
        regions: tuple[str, ...] | None = (),
        limit: int = 3,
    ) -> MatchResult:
        """Refresh if needed, then match ``text`` for an asker in ``regions``.

        ``regions`` is the asker's region and its ancestors; entries scoped to other
        regions are left out (``()``: unscoped entries only; None: no scoping).
        """
        await self.refresh(session)
        assert self._built is not None
        return self._built.matcher.match(text, limit=limit, region=regions)

    def entry(self, slug: str) -> EntryView | None:
        """Return an entry of the current build."""
        return self._built.by_slug.get(slug) if self._built else None

    def entry_by_id(self, entry_id: int) -> EntryView | None:
        """Return an entry of the current build by its database id."""
        return self._built.by_id.get(entry_id) if self._built else None
