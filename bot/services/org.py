"""The organisation: the region grid (青情地图), topics, cadres, reviewers and the committee.

Loaded from an org file (``voy org load FILE.yaml``); the schema is in the README.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import lifecycle
from storage.models import (
    NOT_YET_SEEN,
    ROLE_ADMIN,
    ROLE_CADRE,
    ROLE_DONOR,
    ROLE_REVIEWER,
    Cadre,
    OrgSetting,
    Region,
    Topic,
    User,
)
from storage.questions import Question

ORG_ROLES = (ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER)
_WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_CODE_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,31}$"


class OrgFileError(ValueError):
    """Raised for an org file that cannot be loaded; the message says where and why."""


class RegionSpec(BaseModel):
    """A region in the org file, with its sub-regions nested under ``children``."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=_CODE_PATTERN)
    names: dict[str, str]
    children: list[RegionSpec] = Field(default_factory=list)


class TopicSpec(BaseModel):
    """A topic in the org file."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=_CODE_PATTERN)
    names: dict[str, str]


class CadreSpec(BaseModel):
    """A cadre in the org file."""

    model_config = ConfigDict(extra="forbid")
    telegram_id: int
    name: str = Field(min_length=1, max_length=128)
    regions: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    duty_days: list[int] = Field(default_factory=list)
    capacity: int = Field(default=10, ge=1, le=1000)

    @field_validator("duty_days", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> list[int]:
        days = []
        for day in value or []:
            number = _WEEKDAYS.get(str(day).lower()[:3]) if isinstance(day, str) else day
            if not isinstance(number, int) or not 1 <= number <= 7:
                raise ValueError(f"not a weekday: {day!r} (use mon..sun or 1..7)")
            days.append(number)
        return sorted(set(days))


class CommitteeSpec(BaseModel):
    """The league committee: its group chat and its admins."""

    model_config = ConfigDict(extra="forbid")
    chat_id: int | None = None
    admins: list[int] = Field(default_factory=list)


class OrgFile(BaseModel):
    """The whole org file."""

    model_config = ConfigDict(extra="forbid")
    committee: CommitteeSpec = Field(default_factory=CommitteeSpec)
    regions: list[RegionSpec] = Field(default_factory=list)
    topics: list[TopicSpec] = Field(default_factory=list)
    cadres: list[CadreSpec] = Field(default_factory=list)
    reviewers: list[int] = Field(default_factory=list)
    donors: list[int] = Field(default_factory=list)

    def walk_regions(self) -> Iterator[tuple[RegionSpec, str | None, int]]:
        """Yield every region with its parent code and its position among siblings."""

        def walk(
            specs: Sequence[RegionSpec], parent: str | None
        ) -> Iterator[tuple[RegionSpec, str | None, int]]:
            for position, spec in enumerate(specs):
                yield spec, parent, position
                yield from walk(spec.children, spec.code)

        return walk(self.regions, None)


@dataclass
class LoadReport:
    """What ``load_org`` changed, for the CLI to print."""

    regions: int = 0
    topics: int = 0
    cadres: int = 0
    deactivated_cadres: list[str] = field(default_factory=list)
    removed_regions: list[str] = field(default_factory=list)
    removed_topics: list[str] = field(default_factory=list)


def parse_org_file(path: Path) -> OrgFile:
    """Read and validate an org file; raise :class:`OrgFileError` with a readable message."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not raw:
            # A failed copy or `> org.yaml`: loading it would remove every region and
            # topic and deactivate every cadre.
            raise OrgFileError(f"{path}: the file is empty; nothing was loaded")
        org = OrgFile.model_validate(raw)
    except OrgFileError:
        raise
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise OrgFileError(f"{path}: {exc}") from exc
    codes = [spec.code for spec, _, _ in org.walk_regions()]
    duplicates = {code for code in codes if codes.count(code) > 1}
    if duplicates:
        raise OrgFileError(f"{path}: duplicate region codes {sorted(duplicates)}")
    topics = {topic.code for topic in org.topics}
    for cadre in org.cadres:
        unknown = (set(cadre.regions) - set(codes)) | (set(cadre.topics) - topics)
        if unknown:
            raise OrgFileError(f"{path}: cadre {cadre.name} names unknown codes {sorted(unknown)}")
    if not codes:
        raise OrgFileError(f"{path}: no regions: an org needs its grid (regions:); nothing loaded")
    return org


async def load_org(session: AsyncSession, org: OrgFile, *, default_locale: str) -> LoadReport:
    """Upsert the org file into the database.

    Cadres missing from the file are deactivated (their history stays); regions and
    topics missing from it are removed (people in a removed region choose again).
    """
    report = LoadReport()
    region_codes = {spec.code for spec, _, _ in org.walk_regions()}
    topic_codes = {spec.code for spec in org.topics}
    for stale_region in await session.scalars(select(Region)):
        if stale_region.code not in region_codes:
            report.removed_regions.append(stale_region.code)
            await session.delete(stale_region)
    for stale_topic in await session.scalars(select(Topic)):
        if stale_topic.code not in topic_codes:
            report.removed_topics.append(stale_topic.code)
            await session.delete(stale_topic)
    if report.removed_topics:
        # Nobody can cover a topic that is gone: its open questions route as untopical
        # (to whoever covers their region), not wait for ever for a cadre of that topic.
        await session.execute(
            update(Question)
            .where(Question.topic.in_(report.removed_topics), Question.status.in_(lifecycle.OPEN))
            .values(topic=None)
        )
    await session.flush()
    for spec, parent, position in org.walk_regions():
        region = await session.get(Region, spec.code) or Region(code=spec.code)
        region.parent_code, region.names, region.position = parent, spec.names, position
        session.add(region)
        report.regions += 1
    for position, topic_spec in enumerate(org.topics):
        topic = await session.get(Topic, topic_spec.code) or Topic(code=topic_spec.code)
        topic.names, topic.position = topic_spec.names, position
        session.add(topic)
        report.topics += 1
    await session.flush()

    listed = {spec.telegram_id for spec in org.cadres}
    existing = {cadre.telegram_id: cadre for cadre in await session.scalars(select(Cadre))}
    for telegram_id, old in existing.items():
        if old.active and old.source == "org" and telegram_id not in listed:
            old.active = False
            report.deactivated_cadres.append(old.name)
    for cadre_spec in org.cadres:
        # Resolve the related rows first: assigning a collection to a row that autoflush
        # has just inserted would lazy-load it, which async sessions cannot do.
        regions = [r for code in cadre_spec.regions if (r := await session.get(Region, code))]
        topics = [t for code in cadre_spec.topics if (t := await session.get(Topic, code))]
        fields = {
            "name": cadre_spec.name,
            "duty_days": cadre_spec.duty_days,
            "capacity": cadre_spec.capacity,
            "active": True,
            "regions": regions,
            "topics": topics,
            # Listed in the file: the file decides from now on (a cadre who joined by
            # invite or `voy cadre add` and is later dropped from it is deactivated).
            "source": "org",
        }
        cadre = existing.get(cadre_spec.telegram_id)
        if cadre is None:
            session.add(Cadre(telegram_id=cadre_spec.telegram_id, **fields))
        else:
            for name, value in fields.items():
                setattr(cadre, name, value)
        report.cadres += 1

    await _assign_roles(session, org, default_locale=default_locale)
    await set_setting(session, "committee_chat_id", org.committee.chat_id)
    await session.flush()
    return report


async def _assign_roles(session: AsyncSession, org: OrgFile, *, default_locale: str) -> None:
    wanted: dict[int, set[str]] = {}
    # Cadres who joined by invite or `voy cadre add` (and are not in the file) keep
    # their role while active: the file does not know them, it does not remove them.
    joined_otherwise = await session.scalars(
        select(Cadre.telegram_id).where(Cadre.active.is_(True), Cadre.source != "org")
    )
    for role, ids in (
        (ROLE_ADMIN, org.committee.admins),
        (ROLE_CADRE, [c.telegram_id for c in org.cadres] + list(joined_otherwise)),
        (ROLE_REVIEWER, org.reviewers),
        (ROLE_DONOR, org.donors),
    ):
        for telegram_id in ids:
            wanted.setdefault(telegram_id, set()).add(role)
    names = {c.telegram_id: c.name for c in org.cadres}
    for user in await session.scalars(select(User)):
        keep = [role for role in user.roles or [] if role not in ORG_ROLES]
        user.roles = sorted(set(keep) | wanted.pop(user.telegram_id, set()))
    for telegram_id, roles in wanted.items():
        session.add(
            User(
                telegram_id=telegram_id,
                first_name=names.get(telegram_id, ""),
                language_code=NOT_YET_SEEN,
                locale=default_locale,
                roles=sorted(roles),
            )
        )


async def set_setting(session: AsyncSession, key: str, value: Any) -> None:
    """Store an organisation-wide setting."""
    setting = await session.get(OrgSetting, key) or OrgSetting(key=key)
    setting.value = value
    session.add(setting)


async def get_setting(session: AsyncSession, key: str, default: Any = None) -> Any:
    """Read an organisation-wide setting."""
    setting = await session.get(OrgSetting, key)
    return default if setting is None else setting.value


async def topic_codes(session: AsyncSession) -> set[str]:
    """Return the codes of the organisation's topics."""
    return set(await session.scalars(select(Topic.code)))


async def region_children(session: AsyncSession, parent_code: str | None) -> list[Region]:
    """Return the regions directly under ``parent_code`` (None: the top of the grid)."""
    condition = (
        Region.parent_code.is_(None) if parent_code is None else Region.parent_code == parent_code
    )
    return list(await session.scalars(select(Region).where(condition).order_by(Region.position)))


async def region_chain(session: AsyncSession, code: str | None) -> tuple[str, ...]:
    """Return ``code`` and the codes of every region above it (empty for None)."""
    chain: list[str] = []
    while code is not None and code not in chain:  # the guard stops a cyclic grid
        region = await session.get(Region, code)
        if region is None:
            break
        chain.append(region.code)
        code = region.parent_code
    return tuple(chain)


async def all_region_codes(session: AsyncSession) -> set[str]:
    """Every region code of the grid."""
    return set(await session.scalars(select(Region.code)))


async def region_subtree(session: AsyncSession, code: str) -> set[str]:
    """``code`` and every region below it (a district and its streets)."""
    found, frontier = {code}, [code]
    while frontier:
        children = set(
            await session.scalars(select(Region.code).where(Region.parent_code.in_(frontier)))
        )
        frontier = list(children - found)
        found |= children
    return found


async def get_region(session: AsyncSession, code: str | None) -> Region | None:
    """Return the region with this code, if any."""
    return await session.get(Region, code) if code else None


async def picker_root(session: AsyncSession) -> Region | None:
    """Return the single top region (the city) when there is one, else None.

    With one city at the top, young people start the picker at its districts.
    """
    roots = await region_children(session, None)
    return roots[0] if len(roots) == 1 else None


@dataclass(frozen=True)
class PickerOption:
    """One button of the region picker."""

    region: Region
    has_children: bool


@dataclass(frozen=True)
class PickerView:
    """A level of the two-level region picker."""

    parent: Region | None
    options: list[PickerOption]
    # Where "back" leads: a region code, "-" for the top, or None when at the top.
    back_to: str | None


async def picker_view(session: AsyncSession, parent_code: str | None) -> PickerView:
    """Return the picker level under ``parent_code`` (None: the top level young people see).

    Raises:
        LookupError: ``parent_code`` is not a region.
    """
    root = await picker_root(session)
    parent: Region | None
    if parent_code is None or (root is not None and parent_code == root.code):
        parent, back_to = None, None
        regions = await region_children(session, root.code if root else None)
    else:
        parent = await session.get(Region, parent_code)
        if parent is None:
            raise LookupError(parent_code)
        regions = await region_children(session, parent.code)
        at_top = parent.parent_code is None or (
            root is not None and parent.parent_code == root.code
        )
        back_to = "-" if at_top else parent.parent_code
    parents = set(
        await session.scalars(
            select(Region.parent_code).where(Region.parent_code.in_([r.code for r in regions]))
        )
    )
    return PickerView(
        parent=parent,
        options=[PickerOption(region, region.code in parents) for region in regions],
        back_to=back_to,
    )
