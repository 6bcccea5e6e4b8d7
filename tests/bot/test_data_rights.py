"""Data rights without Telegram: the export, erasure, retention, and the table inventory."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import rights_ui, wish_notify
from bot.config import Settings
from bot.data import DEMO_ORG
from bot.services import (
    access_log,
    data_export,
    data_forget,
    lifecycle,
    org,
    retention,
    users,
    wishes,
)
from bot.services import outbox as outbox_service
from bot.services import wish_lifecycle as wish_life
from bot.services.data_rights import (
    COVERED_TABLES,
    EXCLUDED_TABLES,
    PURGED,
    forgotten_telegram_id,
)
from storage import migrate
from storage.base import Base
from storage.broadcasts import AnnouncementPreference, Subscription
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.faq import FaqEntry, FaqPhrasing, FaqRevision, MatchLog
from storage.models import Cadre, InboundMessage, Topic, User
from storage.outbox import STATE_CANCELLED, STATE_SENT, OutboxMessage
from storage.privacy import PersonalDataAccess
from storage.questions import Conversation, Question, QuestionEvent, QuestionMessage
from storage.wishes import Wish, WishEvent
from tests.support import TOKEN

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SECRET = "pseudonym-secret"
A_TG, B_TG = 5_551_001, 5_551_002
A_NAME, A_USERNAME, A_PHONE = "林晓雨测试", "lxy_test", "13811112222"
# Everything young person A wrote or was sent carries one of these; none may survive.
A_STRINGS = ("SECRET-A", A_NAME, A_USERNAME, A_PHONE)


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        await org.load_org(session, org.parse_org_file(DEMO_ORG), default_locale="zh-Hans")
    yield factory
    await engine.dispose()


@dataclass
class World:
    a: User
    b: User
    q_open: Question
    q_resolved: Question
    w_claimed: Wish
    w_rejected: Wish
    wang: Cadre
    li: User


async def _youth(session: AsyncSession, telegram_id: int, name: str) -> User:
    user, _ = await users.touch(
        session,
        telegram_id=telegram_id,
        first_name=name,
        language_code="zh-hans",
        default_locale="zh-Hans",
    )
    user.region_code = "a-street-1"
    return user


def _question(user: User, text: str, status: str, **extra: Any) -> Question:
    return Question(
        user_id=user.id,
        text=text,
        region_code="a-street-1",
        topic="league",
        status=status,
        asked_at=NOW,
        last_activity_at=NOW,
        thread=[QuestionMessage(author="youth", text=text, created_at=NOW)],
        events=[],
        **extra,
    )


def _inbound(user_tg: int, number: int, text: str, name: str, *, kind: str = "text") -> Any:
    sender = {"id": user_tg, "first_name": name, "is_bot": False}
    if user_tg == A_TG:
        sender["username"] = A_USERNAME
    return InboundMessage(
        update_id=number,
        fingerprint=f"{number}:{user_tg}:{number}:0:",
        telegram_user_id=user_tg,
        chat_id=user_tg,
        message_id=number,
        kind=kind,
        text=text,
        payload={"update_id": number, "message": {"from": sender, "text": text}},
        status="handled",
        received_at=NOW,
        handled_at=NOW,
    )


async def _world(session: AsyncSession) -> World:
    a = await _youth(session, A_TG, A_NAME)
    b = await _youth(session, B_TG, "赵其他人")
    wang = await session.scalar(select(Cadre).where(Cadre.telegram_id == 2001))
    wang_user = await users.get_by_telegram_id(session, 2001)
    li = await users.get_by_telegram_id(session, 2002)
    assert wang is not None and wang_user is not None and li is not None
    q_open = _question(
        a,
        f"QUESTION SECRET-A 我的电话{A_PHONE}",
        lifecycle.ASSIGNED,
        assigned_cadre_id=wang.id,
        assigned_at=NOW,
        identity_shared=True,
    )
    q_open.thread.append(
        QuestionMessage(author="cadre", cadre_id=wang.id, text="ANSWER SECRET-A", created_at=NOW)
    )
    q_open.events.append(
        QuestionEvent(
            trigger="assign",
            from_state="routed",
            to_state="assigned",
            actor="system",
            note=f"to cadre:{wang.id}",
            created_at=NOW,
        )
    )
    q_resolved = _question(a, "RESOLVED SECRET-A", lifecycle.RESOLVED, resolved_at=NOW)
    q_other = _question(b, "OTHER SECRET-B", lifecycle.ROUTED)
    session.add_all([q_open, q_resolved, q_other])
    await session.flush()
    session.add_all(
        [
            MatchLog(
                telegram_user_id=A_TG,
                query="QUESTION SECRET-A",
                band="route",
                question_id=q_open.id,
            ),
            MatchLog(
                telegram_user_id=B_TG, query="OTHER SECRET-B", band="route", question_id=q_other.id
            ),
        ]
    )
    entry = FaqEntry(
        slug="league-join",
        question="怎么入团",
        answer="见章程",
        updated_by=f"user:{a.id}",
        phrasings=[
            FaqPhrasing(text="PHRASE SECRET-A", source="suggestion", created_by=f"user:{a.id}"),
            FaqPhrasing(text="入团条件", source="import", created_by="test"),
        ],
    )
    session.add(entry)
    await session.flush()
    session.add(
        FaqRevision(
            entry_id=entry.id,
            version=2,
            snapshot={"question": "怎么入团", "alt_questions": ["PHRASE SECRET-A", "入团条件"]},
            changed_by=f"user:{a.id}",
        )
    )
    w_claimed = Wish(
        user_id=a.id,
        status=wish_life.CLAIMED,
        text="WISH SECRET-A",
        photo_file_id="PHOTO-SECRET-A",
        category="daily",
        beneficiary="other",
        relation="REL SECRET-A",
        age_band="14-17",
        region_code="a-street-1",
        place="PLACE SECRET-A",
        value_yuan=100,
        submitted_at=NOW,
        claimer_user_id=li.id,
        claimed_at=NOW,
        progress_at=NOW,
        events=[
            WishEvent(
                trigger="claim",
                from_state="approved",
                to_state="claimed",
                actor=f"user:{li.id}",
                note="",
                created_at=NOW,
            )
        ],
    )
    w_rejected = Wish(
        user_id=a.id,
        status=wish_life.REJECTED,
        text="REJECTED SECRET-A",
        category="books",
        beneficiary="self",
        age_band="14-17",
        region_code="a-street-1",
        value_yuan=50,
        reason="REASON SECRET-A",
        submitted_at=NOW,
        events=[
            WishEvent(
                trigger="reject",
                from_state="submitted",
                to_state="rejected",
                actor=f"user:{wang_user.id}",
                note="REASON SECRET-A",
                created_at=NOW,
            )
        ],
    )
    w_other = Wish(
        user_id=b.id,
        status=wish_life.SUBMITTED,
        text="WISH SECRET-B",
        category="daily",
        beneficiary="self",
        age_band="14-17",
        value_yuan=10,
        submitted_at=NOW,
        events=[],
    )
    session.add_all([w_claimed, w_rejected, w_other])
    session.add(
        Conversation(
            chat_id=A_TG,
            kind="wish_draft",
            data={"step": "place", "fields": {"text": "DRAFT SECRET-A"}},
            updated_at=NOW,
        )
    )
    session.add_all(
        [
            _inbound(A_TG, 1, "INBOUND SECRET-A", A_NAME),
            _inbound(A_TG, 2, "/start", A_NAME, kind="command"),
            _inbound(B_TG, 3, "INBOUND SECRET-B", "赵其他人"),
        ]
    )
    answer = await outbox_service.enqueue(
        session,
        kind="answer",
        chat_id=A_TG,
        recipient_user_id=A_TG,
        text="OUTBOX SECRET-A",
        due_at=NOW,
        dedupe_key="t:answer",
        audience="youth",
        ref=("question", q_open.id),
    )
    sent = await outbox_service.enqueue(
        session,
        kind="notice",
        chat_id=A_TG,
        recipient_user_id=A_TG,
        text="SENT SECRET-A",
        due_at=NOW,
        dedupe_key="t:sent",
        audience="youth",
        method="photo",  # a proof photo Telegram holds: its file id goes too
        file_id="PHOTO SECRET-A",
    )
    assert answer is not None and sent is not None
    sent.state, sent.sent_at = STATE_SENT, NOW
    await outbox_service.enqueue(
        session,
        kind="card",
        chat_id=2001,
        recipient_user_id=2001,
        text=f"card {A_NAME} QUESTION SECRET-A",
        due_at=NOW,
        dedupe_key="t:card",
        audience="staff",
        ref=("question", q_open.id),
    )
    await outbox_service.enqueue(
        session,
        kind="card",
        chat_id=2001,
        recipient_user_id=2001,
        text="card OTHER SECRET-B",
        due_at=NOW,
        dedupe_key="t:card-b",
        audience="staff",
        ref=("question", q_other.id),
    )
    await access_log.record(
        session,
        viewer_chat_id=2001,
        viewer_user_id=wang_user.id,
        subject_user_id=a.id,
        item=("question", q_open.id),
        purpose=access_log.IDENTITY_SHARED_CARD,
        fields=["first_name"],
        now=NOW,
    )
    await session.flush()
    return World(a, b, q_open, q_resolved, w_claimed, w_rejected, wang, li)


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _ints(v)]
    if isinstance(value, list):
        return [n for v in value for n in _ints(v)]
    return []


async def test_export_holds_exactly_the_persons_items(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        world = await _world(session)
        result = await data_export.export(session, user=world.a, secret=SECRET, now=NOW)
    data = result.data
    assert not result.empty
    assert data["profile"]["first_name"] == A_NAME and data["profile"]["telegram_id"] == A_TG
    assert data["profile"]["telegram_profiles_seen"] == [
        {"first_name": A_NAME, "username": A_USERNAME}
    ]
    assert {q["ticket"] for q in data["questions"]} == {world.q_open.id, world.q_resolved.id}
    opened = next(q for q in data["questions"] if q["ticket"] == world.q_open.id)
    assert [m["text"] for m in opened["messages"]] == [
        f"QUESTION SECRET-A 我的电话{A_PHONE}",
        "ANSWER SECRET-A",
    ]
    assert opened["messages"][1]["from"].startswith("staff-")
    assert opened["events"][0]["note"].startswith("to staff-")
    assert data["consents"]["name_shared_with_cadres_on_questions"] == [world.q_open.id]
    assert [m["query"] for m in data["faq_matches"]] == ["QUESTION SECRET-A"]
    assert [p["text"] for p in data["faq_phrasings_learned_from_you"]] == ["PHRASE SECRET-A"]
    assert {w["wish"] for w in data["wishes"]} == {world.w_claimed.id, world.w_rejected.id}
    claimed = next(w for w in data["wishes"] if w["wish"] == world.w_claimed.id)
    assert claimed["relation"] == "REL SECRET-A" and claimed["taken_on_by"].startswith("staff-")
    assert data["wishes_you_took_on"] == []
    assert data["waiting_for"]["data"]["fields"]["text"] == "DRAFT SECRET-A"
    assert [m["text"] for m in data["messages_you_sent"]] == ["INBOUND SECRET-A", "/start"]
    assert sorted(m["text"] for m in data["messages_sent_to_you"]) == [
        "OUTBOX SECRET-A",
        "SENT SECRET-A",
    ]
    (seen,) = data["who_was_shown_your_data"]
    assert seen["purpose"] == "identity_shared_card" and seen["shown_to"].startswith("staff-")

    dump = json.dumps(data, ensure_ascii=False)
    assert "SECRET-B" not in dump and "赵其他人" not in dump  # nothing of anyone else
    for staff_name in ("王老师", "李老师"):
        assert staff_name not in dump  # staff by pseudonym only
    # No staff Telegram id anywhere (internal ids are small and clash with ticket numbers).
    assert not {2001, 2002, 2003} & set(_ints(data))


async def test_an_export_of_someone_with_only_commands_is_empty(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        fresh = await _youth(session, 5_551_003, "新人")
        session.add(_inbound(5_551_003, 9, "/mydata", "新人", kind="command"))
        await session.flush()
        result = await data_export.export(session, user=fresh, secret=SECRET, now=NOW)
    assert result.empty


def test_a_big_export_is_zipped_and_still_whole() -> None:
    data = {"messages_you_sent": [{"text": "话" * 100} for _ in range(100)]}
    small, name = data_export.encode(data, day="2026-11-18")
    assert name == "voy-mydata-2026-11-18.json" and json.loads(small) == data
    packed, zipped_name = data_export.encode(data, day="2026-11-18", limit=1000)
    assert zipped_name.endswith(".json.zip") and len(packed) < len(small)
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        assert json.loads(archive.read(name)) == data


async def _digest_counts(session: AsyncSession) -> dict[str, Counter[Any]]:
    """What weekly counts are made of: rows by region, topic, day; bands; messages."""
    questions = Counter(
        (q.region_code, q.topic, q.asked_at.date())
        for q in await session.scalars(select(Question))
    )
    wishes = Counter(
        (w.region_code, w.category, w.age_band, w.submitted_at.date())
        for w in await session.scalars(select(Wish))
    )
    bands = Counter(m.band for m in await session.scalars(select(MatchLog)))
    inbound = Counter(m.kind for m in await session.scalars(select(InboundMessage)))
    people = Counter({"users": await session.scalar(select(func.count(User.id)))})
    return {"q": questions, "w": wishes, "bands": bands, "inbound": inbound, "people": people}


async def _scan(session: AsyncSession, *, strings: tuple[str, ...], number: int) -> list[str]:
    """Every text, JSON and binary column of every table searched for ``strings``, and
    every integer column for ``number``; return where they were found."""
    found = []
    for table in Base.metadata.sorted_tables:
        for row in (await session.execute(select(table))).mappings():
            for column in table.columns:
                value = row[column.name]
                if value is None:
                    continue
                if isinstance(column.type, Integer | BigInteger):
                    if value == number:
                        found.append(f"{table.name}.{column.name}={value}")
                    continue
                if isinstance(column.type, JSON):
                    text = json.dumps(value, ensure_ascii=False)
                elif isinstance(column.type, LargeBinary):
                    text = bytes(value).decode("utf-8", "replace")
                elif isinstance(column.type, String | Text):
                    text = str(value)
                else:
                    text = str(value)
                found += [f"{table.name}.{column.name}: {s}" for s in strings if s in text]
    return found


async def test_forget_blanks_every_personal_text_and_keeps_the_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        world = await _world(session)
    async with sessions() as session:
        assert await _scan(session, strings=A_STRINGS, number=A_TG)  # the scan sees them
        before = await _digest_counts(session)

    async with unit_of_work(sessions) as session:
        a = await session.get(User, world.a.id)
        assert a is not None
        report = await data_forget.forget(
            session, user=a, now=NOW, default_locale="zh-Hans", secret="s"
        )

    assert report.questions == 2 and report.wishes == 2
    holders = {(h.item_kind, h.item_id, h.chat_id) for h in report.holders}
    assert holders == {
        ("question", world.q_open.id, 2001),  # the cadre on the open ticket
        ("wish", world.w_claimed.id, 2002),  # the claimer of the open wish
    }
    async with sessions() as session:
        assert await _scan(session, strings=A_STRINGS, number=A_TG) == []
        assert await _digest_counts(session) == before
        # Someone else's data is untouched.
        others = await _scan(session, strings=("SECRET-B", "赵其他人"), number=B_TG)
        assert len(others) >= 6
        a = await session.get(User, world.a.id)
        assert a is not None and a.forgotten_at is not None
        assert a.telegram_id == forgotten_telegram_id(a.id) and a.first_name == ""
        q_open = await session.get(Question, world.q_open.id)
        assert q_open is not None and q_open.status == lifecycle.WITHDRAWN
        assert q_open.text == PURGED and q_open.events[-1].actor == "system"
        resolved = await session.get(Question, world.q_resolved.id)
        assert resolved is not None and resolved.status == lifecycle.RESOLVED
        wish = await session.get(Wish, world.w_claimed.id)
        assert wish is not None and wish.status == wish_life.WITHDRAWN
        assert (wish.photo_file_id, wish.relation, wish.place) == (None, None, None)
        states = dict(
            (await session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.state))).all()
        )
        assert states["t:answer"] == STATE_CANCELLED and states["t:card"] == STATE_CANCELLED
        assert states["t:sent"] == STATE_SENT and states["t:card-b"] == "pending"
        assert await session.get(Conversation, A_TG) is None
        assert [p.text for p in await session.scalars(select(FaqPhrasing))] == ["入团条件"]
        # The access log stays for the officer: ids only.
        assert await session.scalar(select(func.count(PersonalDataAccess.id))) == 1

    async with unit_of_work(sessions) as session:
        again, created = await users.touch(
            session, telegram_id=A_TG, first_name=A_NAME, language_code="zh", default_locale="en"
        )
        assert created and again.id != world.a.id  # a fresh user
        result = await data_export.export(session, user=again, secret=SECRET, now=NOW)
        assert result.data["questions"] == [] and result.data["wishes"] == []


async def test_forget_refuses_staff_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        wang = await users.get_by_telegram_id(session, 2001)
        assert wang is not None
        with pytest.raises(data_forget.StaffAccount):
            await data_forget.preview(session, user=wang)
        with pytest.raises(data_forget.StaffAccount):
            await data_forget.forget(
                session, user=wang, now=NOW, default_locale="zh-Hans", secret="s"
            )
        assert wang.telegram_id == 2001 and wang.forgotten_at is None


async def test_preview_counts_open_items(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        world = await _world(session)
        found = await data_forget.preview(session, user=world.a)
    assert (found.questions, found.open_questions, found.wishes, found.open_wishes) == (
        2,
        1,
        2,
        1,
    )


DAYS = 30


async def test_retention_purges_only_closed_items_at_or_past_the_age(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = NOW + timedelta(days=400)
    cutoff = now - timedelta(days=DAYS)
    younger = cutoff + timedelta(seconds=1)
    async with unit_of_work(sessions) as session:
        a = await _youth(session, A_TG, A_NAME)
        rows = {
            "q_exact": _question(a, "q exact", lifecycle.RESOLVED),
            "q_young": _question(a, "q young", lifecycle.RESOLVED),
            "q_open_old": _question(a, "q open old", lifecycle.ASSIGNED),
            "q_spam_old": _question(a, "q spam old", lifecycle.CLOSED_SPAM),
        }
        rows["q_exact"].last_activity_at = cutoff
        rows["q_young"].last_activity_at = younger
        rows["q_open_old"].last_activity_at = cutoff - timedelta(days=100)
        rows["q_spam_old"].last_activity_at = cutoff - timedelta(days=100)
        session.add_all(rows.values())
        await session.flush()
        session.add(
            MatchLog(
                telegram_user_id=A_TG,
                query="q exact",
                band="answer",
                question_id=rows["q_exact"].id,
            )
        )

        def wish(text: str, status: str, closed_at: datetime | None) -> Wish:
            return Wish(
                user_id=a.id,
                status=status,
                text=text,
                photo_file_id="ph",
                category="daily",
                beneficiary="self",
                age_band="14-17",
                value_yuan=1,
                submitted_at=closed_at or now,
                closed_at=closed_at,
                events=[],
            )

        session.add_all(
            [
                wish("w exact", wish_life.CLOSED, cutoff),
                wish("w young", wish_life.WITHDRAWN, younger),
                wish("w open", wish_life.APPROVED, None),
            ]
        )
        old_in = _inbound(A_TG, 1, "in old", A_NAME)
        old_in.received_at = cutoff
        young_in = _inbound(A_TG, 2, "in young", A_NAME)
        young_in.received_at = younger
        waiting = _inbound(A_TG, 3, "in waiting", A_NAME)
        waiting.received_at, waiting.status = cutoff, "received"
        session.add_all([old_in, young_in, waiting])
        for key, state, at in (
            ("o_sent_old", STATE_SENT, cutoff),
            ("o_sent_young", STATE_SENT, younger),
            ("o_pending_old", "pending", cutoff),
        ):
            row = await outbox_service.enqueue(
                session,
                kind="notice",
                chat_id=A_TG,
                text=key,
                due_at=at,
                dedupe_key=key,
                audience="youth",
                # One is a photo Telegram holds (a wish's proof): its file goes too.
                **({"method": "photo", "file_id": "ph"} if key == "o_sent_old" else {}),
            )
            assert row is not None
            if state == STATE_SENT:
                row.state, row.sent_at = state, at

    async with unit_of_work(sessions) as session:
        assert (await retention.purge(session, now=now, days=0, batch=10)).total == 0
        first = await retention.purge(session, now=now, days=DAYS, batch=1)
        assert (first.questions, first.wishes, first.inbound, first.outbox) == (1, 1, 1, 1)
        assert first.full(1)
        rest = await retention.purge(session, now=now, days=DAYS, batch=10)
        assert (rest.questions, rest.wishes, rest.inbound, rest.outbox) == (1, 0, 1, 0)
        assert not rest.full(10)
        assert (await retention.purge(session, now=now, days=DAYS, batch=10)).total == 0

    async with sessions() as session:
        texts = sorted(q.text for q in await session.scalars(select(Question)))
        assert texts == sorted([PURGED, PURGED, "q young", "q open old"])
        for question in await session.scalars(select(Question)):
            assert {m.text for m in question.thread} == {question.text}
        assert [m.query for m in await session.scalars(select(MatchLog))] == [PURGED]
        wishes = {w.status: (w.text, w.photo_file_id) for w in await session.scalars(select(Wish))}
        assert wishes == {
            wish_life.CLOSED: (PURGED, None),
            wish_life.WITHDRAWN: ("w young", "ph"),
            wish_life.APPROVED: ("w open", "ph"),
        }
        inbound = {
            m.update_id: (m.text, m.payload) for m in await session.scalars(select(InboundMessage))
        }
        assert inbound[1] == (None, {}) and inbound[3] == (None, {})
        assert inbound[2][0] == "in young"
        outbox = {
            key: (text, file_id)
            for key, text, file_id in await session.execute(
                select(OutboxMessage.dedupe_key, OutboxMessage.text, OutboxMessage.file_id)
            )
        }
        assert outbox == {
            "o_sent_old": (PURGED, None),
            "o_sent_young": ("o_sent_young", None),
            "o_pending_old": ("o_pending_old", None),
        }


def _person_tables() -> set[str]:
    """Tables that can hold a person's data: those pointing at users (directly or through a
    table that does), and those with a column named like a person's id."""
    person_column = (
        "user_id",
        "telegram_id",
        "telegram_user_id",
        "recipient_user_id",
        "chat_id",
        "used_by",
        "created_by",
        "changed_by",
        "updated_by",
        "actor",
    )
    found = {
        table.name
        for table in Base.metadata.tables.values()
        if any(column.name.endswith(person_column) for column in table.columns)
    }
    linked = {"users"}
    while True:
        more = {
            table.name
            for table in Base.metadata.tables.values()
            if any(fk.column.table.name in linked for fk in table.foreign_keys)
            and table.name not in EXCLUDED_TABLES
        } - linked
        if not more:
            break
        linked |= more
    return found | linked


def test_every_table_with_a_persons_data_is_covered_or_excluded_with_a_reason() -> None:
    tables = _person_tables()
    assert not set(COVERED_TABLES) & set(EXCLUDED_TABLES)
    missing = tables - set(COVERED_TABLES) - set(EXCLUDED_TABLES)
    assert not missing, f"tables with a person's data that data rights do not cover: {missing}"
    stale = (set(COVERED_TABLES) | set(EXCLUDED_TABLES)) - set(Base.metadata.tables)
    assert not stale, f"the inventory names tables that do not exist: {stale}"
    assert all(reason.strip() for reason in EXCLUDED_TABLES.values())
    # The detection works: tables reached only through a question are found.
    assert {"question_messages", "question_events", "wish_events", "match_log"} <= tables


def _settings() -> Settings:
    return Settings(telegram_token=SecretStr(TOKEN), database_url="sqlite+aiosqlite://")


async def test_review_cards_and_claims_log_who_saw_the_wish(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        world = await _world(session)
        wish = Wish(
            user_id=world.a.id,
            status=wish_life.SUBMITTED,
            text="想要一个书包",
            category="study",
            beneficiary="self",
            age_band="10-13",
            guardian_consent=True,
            value_yuan=80,
            submitted_at=NOW,
            events=[],
        )
        session.add(wish)
        await session.flush()
        check = await wishes.checklist(session, wish, value_cap=500)
        reviewers = await wish_notify.review_cards(
            session, wish, check=check, settings=_settings(), now=NOW
        )
        # The same cards again (a retry) are not scheduled twice, nor logged twice.
        await wish_notify.review_cards(session, wish, check=check, settings=_settings(), now=NOW)
        rows = list(
            await session.scalars(
                select(PersonalDataAccess).where(PersonalDataAccess.purpose == "wish_review")
            )
        )
        assert reviewers == 2 and len(rows) == 2  # 王老师 and 张老师 review in the demo org
        assert {r.viewer_chat_id for r in rows} == {2001, 2003}
        assert {(r.subject_user_id, r.item_kind, r.item_id) for r in rows} == {
            (world.a.id, "wish", wish.id)
        }
        reviewer = await users.get_by_telegram_id(session, 2003)
        assert reviewer is not None
        await wishes.review(
            session, wish_id=wish.id, reviewer=reviewer, decision="approve", reason=None, now=NOW
        )
        await wishes.claim(session, wish_id=wish.id, user=world.li, now=NOW, limit=5)
        (claim,) = list(
            await session.scalars(
                select(PersonalDataAccess).where(PersonalDataAccess.purpose == "wish_claim")
            )
        )
        assert (claim.viewer_user_id, claim.viewer_chat_id) == (world.li.id, 2002)
        assert claim.item_id == wish.id


async def test_holders_are_told_without_personal_data(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        world = await _world(session)
        report = await data_forget.forget(
            session, user=world.a, now=NOW, default_locale="zh-Hans", secret="s"
        )
        told = await rights_ui.tell_holders(session, report, settings=_settings(), now=NOW)
        again = await rights_ui.tell_holders(session, report, settings=_settings(), now=NOW)
        notices = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == rights_ui.WITHDRAWN)
            )
        )
    assert told == 2 and again == 0
    by_chat = {n.chat_id: n.text for n in notices}
    assert f"问题 #{world.q_open.id} 已撤回" in by_chat[2001]
    assert f"微心愿 W{world.w_claimed.id} 已撤回" in by_chat[2002]
    for text in by_chat.values():
        assert not any(s in text for s in A_STRINGS)


async def test_a_question_waiting_in_the_pool_is_withdrawn_with_the_committee_told(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        youth = await _youth(session, A_TG, A_NAME)
        waiting = _question(youth, "POOL SECRET-A", lifecycle.ROUTED)
        suggested = _question(youth, "SUGGESTED SECRET-A", lifecycle.SUGGESTED)
        session.add_all([waiting, suggested])
        await session.flush()
        report = await data_forget.forget(
            session, user=youth, now=NOW, default_locale="en", secret="s"
        )
    assert [(h.chat_id, h.recipient_user_id, h.item_id) for h in report.holders] == [
        (-1001000000001, None, waiting.id)  # the committee's group holds the pool
    ]
    async with sessions() as session:
        states = {q.id: q.status for q in await session.scalars(select(Question))}
    assert states == {waiting.id: lifecycle.WITHDRAWN, suggested.id: lifecycle.WITHDRAWN}


async def test_announcement_choices_are_exported_and_forgotten(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        world = await _world(session)
        topic = await session.scalar(select(Topic.code).order_by(Topic.code))
        assert topic is not None
        for person in (world.a, world.b):
            session.add(Subscription(user_id=person.id, topic_code=topic))
            session.add(AnnouncementPreference(user_id=person.id, opted_out=True))
        await session.flush()
        exported = await data_export.export(session, user=world.a, secret=SECRET, now=NOW)
    assert exported.data["announcements"] == {"topics_followed": [topic], "turned_off": True}

    async with unit_of_work(sessions) as session:
        a = await session.get(User, world.a.id)
        assert a is not None
        await data_forget.forget(session, user=a, now=NOW, default_locale="zh-Hans", secret="s")
    async with sessions() as session:
        left = {
            (table, user_id)
            for table, model in (("sub", Subscription), ("pref", AnnouncementPreference))
            for user_id in await session.scalars(select(model.user_id))
        }
    assert left == {("sub", world.b.id), ("pref", world.b.id)}  # only the other person's
