"""0010_waiting_since fills the new column for questions already waiting for staff."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from storage import migrate
from storage.db import create_engine
from storage.questions import Question, QuestionEvent
from tests.support import user_as_of_old_revision


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


async def _backfill(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, "0006_digest")
        questions, events = Question.__table__, QuestionEvent.__table__
        async with engine.begin() as connection:
            user_id = await user_as_of_old_revision(connection, 1)

            async def question(status: str, moves: list[tuple[str, str, datetime]]) -> int:
                qid = (
                    await connection.execute(
                        insert(questions)
                        .values(
                            user_id=user_id,
                            text="问题",
                            status=status,
                            asked_at=at(16, 8),
                            last_activity_at=at(22, 20),
                        )
                        .returning(questions.c.id)
                    )
                ).scalar_one()
                for trigger, source, when in moves:
                    await connection.execute(
                        insert(events).values(
                            question_id=qid,
                            trigger=trigger,
                            from_state=source,
                            to_state="",
                            actor="system",
                            created_at=when,
                        )
                    )
                return int(qid)

            nudged = await question(
                "assigned",
                [
                    ("route", "new", at(16, 9)),
                    ("assign", "routed", at(16, 9)),
                    ("follow_up", "assigned", at(22, 20)),
                ],
            )
            asked_again = await question(
                "assigned",
                [
                    ("route", "new", at(16, 9)),
                    ("answer", "assigned", at(16, 10)),
                    ("follow_up", "answered", at(18, 9)),
                ],
            )
            no_events = await question("routed", [])
            answered = await question("answered", [("route", "new", at(16, 9))])
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            found = dict(
                (await connection.execute(select(questions.c.id, questions.c.waiting_since))).all()
            )
        assert found[nudged] == at(16, 9)  # the nudge does not count
        assert found[asked_again] == at(18, 9)
        assert found[no_events] == at(16, 8)  # asked
        assert found[answered] is None  # nobody waits for staff
        await migrate.downgrade(engine, "0006_digest")
    finally:
        await engine.dispose()


async def test_waiting_since_backfilled(db_url: str) -> None:
    await _backfill(db_url)
