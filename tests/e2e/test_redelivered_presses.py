"""A press handled a second time (after a kill, or late) meets refusals that change
nothing: the callback query was answered already or expired, the edit was made already.
The press must still count (bot/api_bot.py); any other refusal still fails the update."""

from __future__ import annotations

from sqlalchemy import select

from storage.faq import MatchLog
from storage.models import INBOUND_HANDLED, InboundMessage
from tests.support import XIAOMING, BotHarness

QUERY_GONE = "Bad Request: query is too old and response timeout expired or query ID is invalid"
UNCHANGED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


async def _press_solved(harness: BotHarness) -> tuple[MatchLog, InboundMessage]:
    (reply,) = await harness.send(XIAOMING, "请问几岁能入团啊？")
    await harness.press(XIAOMING, reply, "解决了")
    async with harness.sessions() as session:
        (log,) = await session.scalars(select(MatchLog))
        press = await session.scalar(
            select(InboundMessage).order_by(InboundMessage.id.desc()).limit(1)
        )
    assert press is not None and press.kind == "callback"
    return log, press


async def test_a_press_whose_query_expired_still_counts(harness: BotHarness) -> None:
    await harness.client.set_fault("answerCallbackQuery", 400, description=QUERY_GONE)
    log, press = await _press_solved(harness)
    assert log.response == "solved"
    assert (press.status, press.error) == (INBOUND_HANDLED, None)


async def test_an_edit_already_made_still_counts(harness: BotHarness) -> None:
    await harness.client.set_fault("editMessageReplyMarkup", 400, description=UNCHANGED)
    log, press = await _press_solved(harness)
    assert log.response == "solved"
    assert (press.status, press.error) == (INBOUND_HANDLED, None)


async def test_other_refusals_still_fail_the_update(harness: BotHarness) -> None:
    await harness.client.set_fault(
        "editMessageReplyMarkup", 400, description="Bad Request: chat not found"
    )
    log, press = await _press_solved(harness)
    assert log.response is None  # rolled back
    assert press.error is not None and "BadRequest" in press.error
    # The error handler's own answer (to stop the spinner) comes second, and the sandbox
    # flags a second answer; that is the only rule it saw broken.
    violations = await harness.client.violations()
    assert {v["method"] for v in violations} == {"answerCallbackQuery"}
    await harness.client.clear_violations()
