"""Logs name people by a keyed pseudonym and describe callback data by its shape: raw
Telegram ids and client-controlled callback data stay out."""

from __future__ import annotations

import logging

import pytest

from bot import logs
from bot.services.privacy import log_pseudonym, pseudonym
from tests.support import XIAOMING, BotHarness

FORGED = "v1:FORGED-SECRET-DATA-4242"


async def test_forged_and_stale_buttons_log_a_pseudonym_and_the_datas_shape(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    picker = (await harness.send(XIAOMING, "/start"))[-1]
    caplog.clear()
    answer = await harness.press_data(XIAOMING, picker["message_id"], FORGED)
    assert answer["show_alert"]  # refused, as before
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused, caplog.text
    key = harness.settings.pseudonym_key()
    assert any(f"u:{log_pseudonym(XIAOMING['id'], key)}" in message for message in refused)
    assert any(f"{len(FORGED.encode())} bytes" in message for message in refused)
    assert str(XIAOMING["id"]) not in caplog.text
    assert "FORGED-SECRET" not in caplog.text


async def test_an_unknown_subscription_topic_logs_neither_the_id_nor_the_topic(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    panel = (await harness.send(XIAOMING, "/subscribe"))[-1]
    caplog.set_level(logging.INFO)
    caplog.clear()
    answer = await harness.press_data(XIAOMING, panel["message_id"], "v1:sbt:nosuchtopic42")
    assert answer["show_alert"]
    assert "refused" in caplog.text
    assert str(XIAOMING["id"]) not in caplog.text and "nosuchtopic42" not in caplog.text


def test_the_update_context_carries_a_pseudonym_not_the_id() -> None:
    logs.set_pseudonym_key("k")
    record = logging.LogRecord("x", logging.INFO, "x", 1, "m", None, None)
    with logs.update_context(7, 5_551_001):
        logs.UpdateContextFilter().filter(record)
    assert record.user == logs.who(5_551_001) and "5551001" not in str(record.user)
    line = logs.JsonFormatter().format(record)
    assert "5551001" not in line and log_pseudonym(5_551_001, "k") in line


def test_log_pseudonyms_are_not_the_codes_on_staff_cards() -> None:
    """A log line cannot be matched to a card's 青年#A3F2 by comparing codes, and ten
    characters keep people apart in a log where four would clash."""
    codes = {log_pseudonym(user_id, "k") for user_id in range(5_000)}
    assert len(codes) == 5_000 and all(len(code) == 10 for code in codes)
    for user_id in range(200):
        card = pseudonym(user_id, "k").lower()
        assert not log_pseudonym(user_id, "k").startswith(card)


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        ("v1:qalt:12:3", "v1:qalt (12 bytes)"),
        ("v1:FORGED-SECRET", "? (16 bytes)"),
        ("anything at all", "? (15 bytes)"),
        (None, "none"),
    ],
)
def test_callback_data_is_described_by_its_action_and_length(data: str | None, shape: str) -> None:
    assert logs.callback_shape(data) == shape
