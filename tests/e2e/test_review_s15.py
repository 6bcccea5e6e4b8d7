"""What a second review of session 15's fixes found: each test failed on the code before
its fix."""

from __future__ import annotations

import asyncio

from tests.e2e.test_wishes import LI, _proof_sent, _wait
from tests.support import XIAOMING, BotHarness


async def test_an_unrelated_album_after_a_single_photo_proof_is_not_sent_to_the_owner(
    harness: BotHarness,
) -> None:
    """李老师 proves wish A with ONE photo (not an album). Minutes later he sends an
    album that has nothing to do with it: wishes.album_proof_of only asks "did this
    claimer fulfil a wish with a photo in the last 10 minutes", never whether the album
    is the proof's album, so every photo of the unrelated album reaches 小明."""
    wish, seq = await _proof_sent(harness, "车已送到")
    await _wait(harness, LI["id"], seq, "已通知心愿主人")
    for name in ("party-1.jpg", "party-2.jpg"):
        mark = await harness.inbound_mark()
        sent = await harness.client.send_photo(LI, file_name=name, media_group_id="424242")
        await harness.settled(sent["update_id"], after=mark)
    await asyncio.sleep(1.0)  # let the deliverer run
    got = [
        m["photo"].get("file_name")
        for m in await harness.client.messages(XIAOMING["id"])
        if m["from_bot"] and isinstance(m.get("photo"), dict)
    ]
    assert not {"party-1.jpg", "party-2.jpg"} & set(got), (
        f"photos of an unrelated album reached W{wish.id}'s owner: {got}"
    )
