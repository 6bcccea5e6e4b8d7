"""The live FAQ index: the matcher over the active entries, rebuilt when the KB changes.

Every process compares the store's version with the one it built from before matching,
so an import from another shell (``voy kb import``) is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.matcher import Matcher
from knowledge.store import current_version
from knowledge.types import FaqDoc, MatchResult, Thresholds
from storage.faq import FaqEntry

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntryView:
    """What the bot needs of an entry to answer with it."""

    slug: str
    question: str
    answer: str
    topic: str | None


@dataclass(frozen=True)
class _Built:
    version: int
    matcher: Matcher
    entries: dict[str, EntryView]


class KnowledgeIndex:
    """Holds the current matcher; safe to share between concurrent updates."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        """Create an empty index; it is built on first use."""
        self._thresholds = thresholds or Thresholds()
        self._built: _Built | None = None
        self._lock = asyncio.Lock()

    @property
    def version(self) -> int | None:
        """The KB version the matcher was built from (None before the first build)."""
        return self._built.version if self._built else None

    async def refresh(self, session: AsyncSession, *, force: bool = False) -> None:
        """Rebuild the matcher if the store changed since the last build."""
        version = await current_version(session)
        if not force and self._built is not None and self._built.version == version:
            return
        async with self._lock:
            if not force and self._built is not None and self._built.version == version:
                return
            rows = list(await session.scalars(select(FaqEntry).where(FaqEntry.active.is_(True))))
            docs = [
                FaqDoc(
                    entry_id=row.slug,
                    question=row.question,
                    alt_questions=tuple(p.text for p in row.phrasings),
                    region=row.region,
                )
                for row in rows
            ]
            entries = {
                row.slug: EntryView(row.slug, row.question, row.answer, row.topic) for row in rows
            }
            # Building is CPU work; a large KB must not stall other updates.
            matcher = await asyncio.to_thread(Matcher, docs, thresholds=self._thresholds)
            self._built = _Built(version=version, matcher=matcher, entries=entries)
            _log.info("knowledge index built: %d entries, version %d", len(docs), version)

    async def match(
        self, session: AsyncSession, text: str, *, region: str | None = None, limit: int = 3
    ) -> MatchResult:
        """Refresh if needed, then match ``text``."""
        await self.refresh(session)
        assert self._built is not None
        return self._built.matcher.match(text, limit=limit, region=region)

    def entry(self, slug: str) -> EntryView | None:
        """Return an entry of the current build."""
        return self._built.entries.get(slug) if self._built else None
