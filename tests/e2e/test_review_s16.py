"""What a review of session 16's changes found, through the sandbox and the real bot.

Each test here FAILS on the code as reviewed; its docstring says who meets what.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.services import wish_lifecycle as life
from bot.sweeper import sweep
from storage.db import unit_of_work
from storage.models import Cadre
from storage.privacy import PersonalDataAccess
from tests.e2e.test_cadre_audit import (
    COMMITTEE,
    LI,
    WANG,
    ZHANG,
    _holder,
    _newest,
    _pick_region,
    _wait,
)
from tests.e2e.test_wish_closure import _write_with_photo
from tests.e2e.test_wishes import _last, _returned, _staff, _wish
from tests.support import XIAOMING, BotHarness, buttons

# --- wishes: the lapse sweep ------------------------------------------------------------


async def test_the_lapse_sweep_does_not_withdraw_a_wish_while_its_owner_edits_it(
    harness: BotHarness,
) -> None:
    """A wish returned for edits 29 days and 23 hours ago: the young person presses
    "修改并重新提交" and starts changing it (a review draft for that wish, kept 72 h).
    The hourly sweep then finds the wish returned 30 days ago and withdraws it
    (``wishes.sweep`` looks only at the ``return_for_edits`` event, never at a draft in
    progress), and tells them it lapsed "because it was not resubmitted"; when they
    press 提交 a minute later the resubmission is refused and their edits are lost."""
    await _staff(harness)
    wish, returned = await _returned(harness)
    services = harness.app.bot_data.services
    services.clock.advance(days=29, hours=23)
    await harness.press(XIAOMING, returned, "修改并重新提交")
    review = await _last(harness, XIAOMING)
    await harness.press(XIAOMING, review, "修改")
    await harness.press(XIAOMING, await _last(harness, XIAOMING), "心愿内容")
    (again,) = await harness.send(XIAOMING, "想要一辆 24 寸的山地自行车上学")
    assert "请确认你的心愿" in again["text"]
    services.clock.advance(hours=2)  # the sweep runs while the review screen is open
    report = await sweep(services)
    await harness.press(XIAOMING, again, "提交")
    after = await _wish(harness)
    assert after.status == life.SUBMITTED and "24 寸" in after.text, (
        f"the sweep withdrew W{wish.id} while its owner was editing it "
        f"(lapsed: {report.wishes_lapsed}); status now {after.status!r}; the young person "
        f"was told: {(await _last(harness, XIAOMING))['text']!r}"
    )


# --- calls for help moving between hands ---------------------------------------------------


async def test_a_call_for_help_claimed_from_the_pool_is_not_announced_to_the_committee_as_new(
    harness: BotHarness,
) -> None:
    """A call for help waits in the committee's pool (everyone away). 李老师, back, takes
    it from /pool. ``handlers.cadre.claim_button`` now calls ``notify.hand_on``, which for
    an urgent question calls ``notify.urgent(handed_on=True)``: the committee's group gets
    a second, brand-new 🚨 card for the same question, with "🙋 我来答复" under it, as if
    nobody had it, and saying nothing about who holds it now (the docstring promises
    "the committee's copy saying who holds it now"); its button is then refused."""
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    await _pick_region(harness, XIAOMING, "高新区")
    now = harness.app.bot_data.services.clock.now()
    async with unit_of_work(harness.sessions) as session:  # nobody there: the pool
        await session.execute(update(Cadre).values(away_until=now + timedelta(days=7)))
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我真的不想活了，每天都很痛苦")
    question = await _newest(harness)
    first = await _wait(harness, COMMITTEE, seq, f"紧急关注 #{question.id}")
    assert question.urgent and await _holder(harness, question.id) is None
    async with unit_of_work(harness.sessions) as session:  # everyone is back
        await session.execute(update(Cadre).values(away_until=None))
    (listing,) = await harness.send(LI, "/pool")
    seq = await harness.client.last_seq()
    await harness.press(LI, listing, f"#{question.id}")
    await _wait(harness, LI["id"], seq, f"紧急关注 #{question.id}")  # his card
    assert await _holder(harness, question.id) == LI["id"]
    await harness.client.send_text(WANG, "/start")  # let the outbox run a round
    await _wait(harness, WANG["id"], seq, "")
    again = [
        m
        for m in await harness.client.messages(COMMITTEE)
        if m["from_bot"]
        and m["message_id"] > first["message_id"]
        and f"#{question.id}" in (m.get("text") or "")
        and any("我来答复" in b["text"] for b in buttons(m))
    ]
    assert not again, (
        f"after 李老师 claimed #{question.id}, the committee got a new urgent card with a "
        f"claim button: {again[0]['text']!r}"
    )


async def test_the_committees_claim_button_on_a_held_call_for_help_is_not_dead(
    harness: BotHarness,
) -> None:
    """A call for help reaches the on-duty 李老师 and, as always, the committee's group:
    its 🚨 card carries "🙋 我来答复" (``notify.urgent``: claim_keyboard for the group).
    Since f1493bb ``questions.claim`` refuses a question a colleague holds, so 王老师, the
    committee admin, pressing it on a call for help gets "你不能处理这个问题" every time:
    the button on every committee urgent card is dead (before, it let the committee take
    a call for help over)."""
    for cadre in (WANG, LI, ZHANG):
        await harness.client.send_text(cadre, "/start")
    await _pick_region(harness, XIAOMING, "高新区")
    seq = await harness.client.last_seq()
    await harness.send(XIAOMING, "我真的不想活了，每天都很痛苦")
    question = await _newest(harness)
    await _wait(harness, LI["id"], seq, f"紧急关注 #{question.id}")
    card = await _wait(harness, COMMITTEE, seq, f"紧急关注 #{question.id}")
    assert await _holder(harness, question.id) == LI["id"]
    if not any("我来答复" in b["text"] for b in buttons(card)):
        return  # no button offered: nothing dead
    answer = await harness.press(WANG, card, "我来答复", chat_id=COMMITTEE)
    assert not answer.get("show_alert"), (
        f"the committee's urgent card offers 我来答复 for #{question.id}, held by 李老师; "
        f"pressing it: {answer['text']!r}"
    )


# --- wishes: the photo shown to reviewers ------------------------------------------------


async def test_showing_a_reviewer_the_wish_photo_is_in_the_access_log(
    harness: BotHarness,
) -> None:
    """Reviewers now get the young person's photo with the card (0afc9cb), but the
    access log still records ``wishes.REVIEW_FIELDS`` (masked text, age band, region,
    consent): the record a young person's data export lists of who saw what says nothing
    of the photo that was shown."""
    await _staff(harness)
    review = await _write_with_photo(harness)
    seq = await harness.client.last_seq()
    await harness.press(XIAOMING, review, "提交")
    wish = await _wish(harness)
    await harness.client.wait_for_bot_message(
        ZHANG["id"],
        after_seq=seq,
        timeout=10,
        predicate=lambda m: "photo" in m and f"W{wish.id}" in (m.get("caption") or ""),
    )
    async with harness.sessions() as session:
        rows = list(
            await session.scalars(
                select(PersonalDataAccess).where(
                    PersonalDataAccess.viewer_chat_id == ZHANG["id"],
                    PersonalDataAccess.item_kind == "wish",
                )
            )
        )
    assert rows
    assert any("photo" in field for row in rows for field in row.fields), [
        row.fields for row in rows
    ]
