"""Time /mydata's export and /forget's erasure for one heavy user on SQLite.

Run ``python -m bench.bench_data_rights [--questions 1000] [--messages 10000]``: it builds
a throwaway database with one young person who asked that many questions (three thread
messages each) and sent that many messages, then times the export (JSON encoding
included) and the erasure (one transaction, commit included).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.services import data_export, data_forget, users
from storage import migrate
from storage.db import create_engine, create_session_factory, unit_of_work
from storage.models import InboundMessage
from storage.questions import Question, QuestionMessage

TELEGRAM_ID = 777


async def run(questions: int, messages: int) -> None:
    """Build the data, then time the export and the erasure."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}")
        await migrate.upgrade(engine)
        sessions = create_session_factory(engine)
        now = datetime.now(UTC)
        async with unit_of_work(sessions) as session:
            user, _ = await users.touch(
                session,
                telegram_id=TELEGRAM_ID,
                first_name="bench",
                language_code="zh",
                default_locale="zh-Hans",
            )
            for number in range(questions):
                thread = [
                    QuestionMessage(author="youth", text="追问" * 50, created_at=now)
                    for _ in range(3)
                ]
                session.add(
                    Question(
                        user_id=user.id,
                        text=f"问题{number}" * 20,
                        status="resolved",
                        asked_at=now,
                        last_activity_at=now,
                        thread=thread,
                        events=[],
                    )
                )
            for number in range(messages):
                text = "消息" * 40
                session.add(
                    InboundMessage(
                        update_id=number,
                        fingerprint=f"bench:{number}",
                        telegram_user_id=TELEGRAM_ID,
                        chat_id=TELEGRAM_ID,
                        message_id=number,
                        kind="text",
                        text=text,
                        payload={"message": {"from": {"id": TELEGRAM_ID}, "text": text}},
                        status="handled",
                    )
                )
        async with sessions() as session:
            person = await users.get_by_telegram_id(session, TELEGRAM_ID)
            assert person is not None
            start = time.perf_counter()
            result = await data_export.export(session, user=person, secret="bench", now=now)
            content, name = data_export.encode(result.data, day=f"{now:%Y-%m-%d}")
            took = time.perf_counter() - start
        print(f"export: {took:.2f} s, {len(content) / 1e6:.1f} MB ({name})")
        start = time.perf_counter()
        async with unit_of_work(sessions) as session:
            person = await users.get_by_telegram_id(session, TELEGRAM_ID)
            assert person is not None
            await data_forget.forget(
                session, user=person, now=now, default_locale="zh-Hans", secret="s"
            )
        print(f"forget: {time.perf_counter() - start:.2f} s (one transaction)")
        await engine.dispose()


def main() -> None:
    """Parse the sizes and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10000)
    args = parser.parse_args()
    asyncio.run(run(args.questions, args.messages))


if __name__ == "__main__":
    main()
