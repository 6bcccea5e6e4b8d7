"""The weekly digest through the sandbox: posted once on Monday morning, also after a
restart; /digest for committee admins only."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot import digest_job
from sandbox import SandboxServer
from sandbox.store import StoredMessage
from storage.outbox import OutboxMessage
from tests.conftest import run_harness
from tests.support import COMMITTEE_CHAT, XIAOMING, BotHarness, texts

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 5, tzinfo=TZ)  # after the default posting time
WANG = {"id": 2001, "first_name": "王老师", "language_code": "zh-hans"}  # committee admin
LI = {"id": 2002, "first_name": "李老师", "language_code": "zh-hans"}  # a cadre, no admin
TITLE = "青年之声周报 2026-W47"


def committee(harness: BotHarness) -> list[StoredMessage]:
    """The committee chat as the sandbox stored it, with the bytes of photos and files."""
    chat = harness.server.core.world.chats[COMMITTEE_CHAT]
    return list(chat.messages.values())


def digest_parts(harness: BotHarness, week: str = "2026-W47") -> dict[str, list[StoredMessage]]:
    """The digest's summaries, charts and CSVs of ``week`` in the committee chat."""
    found: dict[str, list[StoredMessage]] = {"summary": [], "chart": [], "csv": []}
    for message in committee(harness):
        if not message.from_bot:
            continue
        if message.text and f"青年之声周报 {week}" in message.text:
            found["summary"].append(message)
        elif message.media and message.media.file.file_name == f"digest-{week}.png":
            found["chart"].append(message)
        elif message.media and message.media.file.file_name == f"digest-{week}.csv":
            found["csv"].append(message)
    return found


async def arrived(harness: BotHarness, timeout: float = 20.0) -> dict[str, list[StoredMessage]]:
    """Wait until the summary, chart and CSV are all in the committee chat."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        parts = digest_parts(harness)
        if all(parts.values()):
            return parts
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"digest parts so far: { {k: len(v) for k, v in parts.items()} }")
        await asyncio.sleep(0.1)


async def test_scheduled_digest_arrives_once_also_after_a_restart(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    async for harness in run_harness(
        sandbox, sqlite_url, digest_check_interval_s=0.2, digest_enabled=True
    ):
        assert harness.app.job_queue is not None
        assert len(harness.app.job_queue.get_jobs_by_name("weekly_digest")) == 1
        # Wednesday of W47: a young person asks something no FAQ entry answers.
        picker = (await harness.send(XIAOMING, "/start"))[-1]
        await harness.press(XIAOMING, picker, "高新区")
        await harness.send(XIAOMING, "高新区的篮球场晚上几点关门，电话13812345678")
        await asyncio.sleep(0.5)
        assert not any(digest_parts(harness).values())  # not before Monday 09:00
        harness.app.bot_data.services.clock.set(MONDAY)
        parts = await arrived(harness)
        summary = parts["summary"][0]
        assert summary.text is not None
        assert "新提问 1" in summary.text and "13812345678" not in summary.text
        chart = parts["chart"][0]
        assert chart.media is not None and chart.media.kind == "photo"
        assert (chart.media.file.data or b"").startswith(b"\x89PNG")
        assert chart.caption and "2026-W47" in chart.caption
        document = parts["csv"][0]
        assert document.media is not None and document.media.kind == "document"
        rows = list(
            csv.DictReader(io.StringIO((document.media.file.data or b"").decode("utf-8-sig")))
        )
        assert [(r["kind"], r["region"]) for r in rows] == [("question", "district-c")]
        await asyncio.sleep(1.0)  # several more checks: nothing is posted twice
        assert {k: len(v) for k, v in digest_parts(harness).items()} == {
            "summary": 1,
            "chart": 1,
            "csv": 1,
        }
        # A second instance (or a job run racing this one) adds nothing.
        assert await digest_job.post_if_due(harness.app.bot_data.services) == 0

    async for harness in run_harness(
        sandbox, sqlite_url, digest_check_interval_s=0.2, digest_enabled=True
    ):
        harness.app.bot_data.services.clock.set(MONDAY.replace(hour=15))
        await asyncio.sleep(1.5)
        assert {k: len(v) for k, v in digest_parts(harness).items()} == {
            "summary": 1,
            "chart": 1,
            "csv": 1,
        }
        async with harness.sessions() as session:
            rows = await session.scalar(
                select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "weekly_digest")
            )
        assert rows == 3


async def test_digest_caught_up_when_the_bot_was_down_on_monday(
    sandbox: SandboxServer, sqlite_url: str
) -> None:
    async for harness in run_harness(
        sandbox, sqlite_url, digest_check_interval_s=0.2, digest_enabled=True
    ):
        await harness.send(XIAOMING, "/start")
        await harness.send(XIAOMING, "篮球场晚上几点关门")
        await asyncio.sleep(0.5)
        async with harness.sessions() as session:
            rows = await session.scalar(select(func.count(OutboxMessage.id)))
            keys = await session.scalars(select(OutboxMessage.dedupe_key))
        # The week before (W46) was empty: no digest for it, though it is due.
        assert not any(key.startswith("digest:") for key in keys), rows
        # The bot was down on Monday and comes back on Wednesday of the following week.
        harness.app.bot_data.services.clock.set(datetime(2026, 11, 25, 14, 0, tzinfo=TZ))
        parts = await arrived(harness)
        assert parts["summary"][0].text and "新提问 1" in parts["summary"][0].text


async def test_digest_command_for_admins_only(harness: BotHarness) -> None:
    assert harness.app.job_queue is not None  # VOY_DIGEST_ENABLED=false: no scheduled job
    assert harness.app.job_queue.get_jobs_by_name("weekly_digest") == ()
    refused = await harness.send(XIAOMING, "/digest")
    assert texts(refused) == "只有团委管理员可以查看周报。"
    refused = await harness.send(LI, "/digest", chat_id=COMMITTEE_CHAT)
    assert texts(refused) == "只有团委管理员可以查看周报。"

    replies = await harness.send(WANG, "/digest", chat_id=COMMITTEE_CHAT)
    assert len(replies) == 3
    assert TITLE in (replies[0].get("text") or "")
    assert "本周截至 2026-11-18 10:00" in replies[0]["text"]  # the week so far
    assert "photo" in replies[1] and "2026-W47" in replies[1]["caption"]
    assert replies[2]["document"]["file_name"] == "digest-2026-W47.csv"

    chosen = await harness.send(WANG, "/digest 2026-W46")
    assert "青年之声周报 2026-W46" in (chosen[0].get("text") or "")
    assert "本周截至" not in chosen[0]["text"]
    assert chosen[2]["document"]["file_name"] == "digest-2026-W46.csv"

    bad = await harness.send(WANG, "/digest next-week")
    assert texts(bad) == "周次格式不对：next-week。请写成 2026-W47 这样。"
    future = await harness.send(WANG, "/digest 2027-W10")
    assert texts(future) == "2027-W10 还没有开始。"


async def test_digest_command_only_in_private_or_the_committee_chat(harness: BotHarness) -> None:
    # An admin in some other group: the committee's figures stay out of that chat.
    other_group = -1009999999999
    refused = await harness.send(WANG, "/digest", chat_id=other_group)
    assert texts(refused) == "周报只能在私聊或团委工作群里查看。"
    assert not any("photo" in m or "document" in m for m in refused)
    private = await harness.send(WANG, "/digest 2026-W46")
    assert "青年之声周报 2026-W46" in (private[0].get("text") or "")
    # A year past the supported range is a bad week, not an OverflowError.
    far = await harness.send(WANG, "/digest 9999-W52")
    assert texts(far) == "周次格式不对：9999-W52。请写成 2026-W47 这样。"


async def test_the_digest_reads_off_the_event_loop_on_sqlite(harness: BotHarness) -> None:
    """On SQLite the bot's statements run on the loop's thread; the digest's long reads go
    through an engine on aiosqlite's thread instead, so they do not hold every update.
    PostgreSQL's driver never blocks the loop: the digest uses the bot's sessions there."""
    services = harness.app.bot_data.services
    async with services.report_sessions()() as session:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = type(raw.driver_connection).__module__
    if services.engine.dialect.name == "sqlite":
        assert driver.startswith("aiosqlite")
        assert services.report_engine is not None
    else:
        assert services.report_engine is None and driver.startswith("asyncpg")


async def test_words_close_to_a_call_for_help_are_a_figure_apart_from_the_alerts(
    harness: BotHarness,
) -> None:
    """The questions the concern model flagged in the week (the list silent on those
    words), in the first message or a follow-up, are counted on a line of their own;
    the list's alerts stay as they were, and an ordinary question adds to neither."""
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    await harness.press(XIAOMING, picker, "高新区")
    await harness.send(LI, "/start")
    # An ordinary question, answered; the young person's follow-up is flagged.
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "高新区的青年创业沙龙怎么报名")
    card = await harness.client.wait_for_bot_message(
        LI["id"], after_seq=seq, timeout=10, predicate=lambda m: "问题 #" in (m["text"] or "")
    )
    seq = await harness.client.last_seq()
    await harness.send(LI, "在青年之家报名。", reply_to=card["message_id"])
    answer = await harness.client.wait_for_bot_message(
        XIAOMING["id"], after_seq=seq, timeout=10, predicate=lambda m: "答复" in (m["text"] or "")
    )
    await harness.send(
        XIAOMING, "其实不只是这样，我每天晚上都一个人哭", reply_to=answer["message_id"]
    )
    # A first message flagged, an ordinary question, and a call for help the list knows.
    await harness.send(XIAOMING, "我最近总是一个人躲在房间里哭，不想见任何人")
    await harness.send(XIAOMING, "高新区的篮球场晚上几点关门")
    await harness.send(XIAOMING, "算了，我真的不想活了")
    replies = await harness.send(WANG, "/digest", chat_id=COMMITTEE_CHAT)
    # The urgent card for the call for help may reach the committee chat among them.
    (summary,) = [m["text"] for m in replies if TITLE in (m.get("text") or "")]
    assert "安全关注：1（上周 0）" in summary, summary
    assert "措辞接近求助（自动复查发现，未报警）：2 个问题，在提问或追问中（上周 0）" in summary
