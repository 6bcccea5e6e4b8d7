"""Refusals that say what to do next: a button whose conversation, step or item has
moved on tells the person what they can do now instead of only that it did not work (a
walkthrough of the bot found them saying "this button has expired, please start again",
with nothing to start). "Withdraw" on a wish someone already took on is no refusal any
more: it asks the claimer (tests/e2e/test_wish_withdraw_request.py)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import select

from storage.questions import Question
from tests.e2e.test_question_loop_edges import LI, _ask, _setup, _wait
from tests.e2e.test_wishes import _last, _prompt, _reply, _staff, _write
from tests.support import XIAOMING, BotHarness

YOUTH_CHAT = cast(int, XIAOMING["id"])  # 小明's private chat
# Telegram shows at most this many characters of a callback query's answer.
POPUP_MAX = 200


def _refusal(answer: dict[str, Any]) -> str:
    """The text of a pop-up refusal (asserting it is one, and fits)."""
    assert answer["show_alert"], answer
    assert len(answer["text"]) <= POPUP_MAX, answer["text"]
    return str(answer["text"])


async def _last_id(harness: BotHarness) -> int:
    return int((await _last(harness, XIAOMING))["message_id"])


async def test_a_step_button_of_a_wish_already_submitted_says_how_to_start_a_new_one(
    harness: BotHarness,
) -> None:
    await _staff(harness)
    await _write(harness)
    photo_step = await _prompt(harness, "相关的照片")
    await harness.press(XIAOMING, await _prompt(harness, "请确认你的心愿"), "提交")
    text = _refusal(await harness.press(XIAOMING, photo_step, "跳过"))
    assert "/wish" in text and "/my" in text, text


async def test_an_old_review_screen_under_a_newer_draft_asks_the_current_step_again(
    harness: BotHarness,
) -> None:
    """The newer draft is kept (an earlier fix); the person is now also shown where it
    stands, rather than left to scroll up for a message they may not find."""
    await _staff(harness)
    old_review = await _write(harness)
    await harness.press(XIAOMING, old_review, "提交")
    await _reply(harness, "/wish", "描述你的心愿")
    await _reply(harness, "想要一套课外书，我特别喜欢科普", "相关的照片")
    before = await _last_id(harness)
    text = _refusal(await harness.press(XIAOMING, old_review, "取消"))
    assert "草稿" in text, text
    again = await _last(harness, XIAOMING)
    assert again["message_id"] > before and "相关的照片" in again["text"], again


async def test_an_old_resolved_button_after_a_follow_up_points_to_my(harness: BotHarness) -> None:
    await _setup(harness)
    card = await _ask(harness, "高新区的青年创业沙龙怎么报名")
    seq = await harness.client.last_seq()
    await harness.send(LI, "周六在团委报名，带上报名表", reply_to=card["message_id"])
    answer = await _wait(harness, YOUTH_CHAT, seq, "团干部答复")
    await harness.press(XIAOMING, answer, "继续追问")
    await harness.send(XIAOMING, "报名表在哪里领")
    async with harness.sessions() as session:
        question = await session.scalar(select(Question))
    assert question is not None
    text = _refusal(await harness.press(XIAOMING, answer, "已解决"))
    assert f"#{question.id}" in text and "/my" in text, text


async def test_a_forged_or_outdated_button_points_to_help(harness: BotHarness) -> None:
    reply = (await harness.send(XIAOMING, "/help"))[-1]
    for data in ("v9:lang:en", "v1:ok:999999"):
        text = _refusal(await harness.press_data(XIAOMING, reply["message_id"], data))
        assert "/help" in text or "/my" in text, (data, text)


async def test_a_forget_confirmation_pressed_again_says_how_to_ask_again(
    harness: BotHarness,
) -> None:
    await harness.send(XIAOMING, "/start")
    (confirm,) = await harness.send(XIAOMING, "/forget")
    await harness.press(XIAOMING, confirm, "确认删除")
    text = _refusal(await harness.press(XIAOMING, confirm, "确认删除"))
    assert "/forget" in text, text


async def test_a_claim_on_a_wish_that_is_gone_points_to_the_listing(harness: BotHarness) -> None:
    await _staff(harness)
    # The last of what came (a notice queued for the cadre may arrive with the listing).
    listing = (await harness.send(LI, "/wishes"))[-1]
    text = _refusal(await harness.press_data(LI, listing["message_id"], "v1:wcl:999999"))
    assert "/wishes" in text, text
