"""The org file: validation, loading, idempotency, roles and the region picker."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.data import DEMO_ORG
from bot.services import org, users
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import Cadre, User


@pytest.fixture
async def sessions(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


async def _load(sessions: async_sessionmaker[AsyncSession], path: Path) -> org.LoadReport:
    async with unit_of_work(sessions) as session:
        return await org.load_org(session, org.parse_org_file(path), default_locale="zh-Hans")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_demo_org_loads_and_reloads_identically(sessions) -> None:  # type: ignore[no-untyped-def]
    first = await _load(sessions, DEMO_ORG)
    second = await _load(sessions, DEMO_ORG)
    assert (first.regions, first.topics, first.cadres) == (8, 10, 3)
    assert (second.regions, second.topics, second.cadres) == (8, 10, 3)
    async with sessions() as session:
        cadres = list(await session.scalars(select(Cadre).order_by(Cadre.telegram_id)))
        assert [c.name for c in cadres] == ["王老师", "李老师", "张老师"]
        assert cadres[0].duty_days == [1, 3, 5]
        assert {r.code for r in cadres[1].regions} == {"district-b", "district-c"}
        wang = await users.get_by_telegram_id(session, 2001)
        assert wang is not None and wang.roles == ["admin", "cadre", "reviewer"]
        assert await org.get_setting(session, "committee_chat_id") == -1001000000001


async def test_cadre_missing_from_new_file_is_deactivated_and_loses_role(
    sessions, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    await _load(sessions, DEMO_ORG)
    text = DEMO_ORG.read_text(encoding="utf-8")
    start = text.index("  - telegram_id: 2003")
    end = text.index("reviewers:")
    report = await _load(sessions, _write(tmp_path, text[:start] + text[end:]))
    assert report.deactivated_cadres == ["张老师"]
    async with sessions() as session:
        zhang = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2003))
        assert zhang is not None and not zhang.active
        user = await users.get_by_telegram_id(session, 2003)
        assert user is not None and user.roles == ["reviewer"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions: [{code: A, names: {en: x}}]", "code"),
        ("regions: [{code: a, names: {en: x}}, {code: a, names: {en: y}}]", "duplicate"),
        ("cadres: [{telegram_id: 1, name: x, regions: [nowhere]}]", "unknown codes"),
        ("cadres: [{telegram_id: 1, name: x, duty_days: [funday]}]", "weekday"),
        ("surprise: 1", "surprise"),
        ("regions: [", "org.yaml"),
    ],
)
def test_bad_org_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(org.OrgFileError, match=message):
        org.parse_org_file(_write(tmp_path, text))


async def test_region_picker_levels(sessions) -> None:  # type: ignore[no-untyped-def]
    await _load(sessions, DEMO_ORG)
    async with sessions() as session:
        top = await org.picker_view(session, None)
        assert top.parent is None and top.back_to is None
        assert [(o.region.code, o.has_children) for o in top.options] == [
            ("district-a", True),
            ("district-b", True),
            ("district-c", False),
        ]
        under = await org.picker_view(session, "district-a")
        assert under.parent is not None and under.parent.code == "district-a"
        assert [o.region.code for o in under.options] == ["a-street-1", "a-street-2"]
        assert under.back_to == "-"
        with pytest.raises(LookupError):
            await org.picker_view(session, "atlantis")


async def test_users_touch_registers_once_and_clears_unreachable(sessions) -> None:  # type: ignore[no-untyped-def]
    async with unit_of_work(sessions) as session:
        user, created = await users.touch(
            session,
            telegram_id=42,
            first_name="阿强",
            language_code="zh-TW",
            default_locale="zh-Hans",
        )
        assert created and user.locale == "zh-Hant"
        await users.mark_unreachable(session, telegram_id=42)
        assert user.unreachable_at is not None
    async with unit_of_work(sessions) as session:
        again, created = await users.touch(
            session,
            telegram_id=42,
            first_name="阿强",
            language_code="zh-TW",
            default_locale="zh-Hans",
        )
        assert not created and again.unreachable_at is None
        assert len(list(await session.scalars(select(User).where(User.telegram_id == 42)))) == 1
        with pytest.raises(users.UnknownRegion):
            await users.set_region(session, user=again, region_code="nowhere")


async def test_regions_and_topics_dropped_from_the_file_are_removed(sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _load(sessions, DEMO_ORG)
    async with unit_of_work(sessions) as session:
        user, _ = await users.touch(
            session, telegram_id=77, first_name="x", language_code="zh", default_locale="zh-Hans"
        )
        await users.set_region(session, user=user, region_code="district-c")
    text = DEMO_ORG.read_text(encoding="utf-8")
    start = text.index("      - code: district-c")
    end = text.index("topics:")
    text = text[:start] + text[end:]
    text = text.replace(
        "  - {code: bot, names: {zh-Hans: 使用帮助, zh-Hant: 使用幫助, en: Using the bot}}\n", ""
    )
    text = text.replace("district-b, district-c]", "district-b]").replace(", bot]", "]")
    report = await _load(sessions, _write(tmp_path, text))
    assert report.removed_regions == ["district-c"] and report.removed_topics == ["bot"]
    async with sessions() as session:
        user = await users.get_by_telegram_id(session, 77)
        assert user is not None and user.region_code is None  # asked to choose again
        assert "bot" not in await org.topic_codes(session)
