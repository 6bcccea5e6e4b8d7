"""The bot's Bot API client: PTB's ``ExtBot``, tolerant of refusals that change nothing.

An update can be handled twice: after a kill, the restarted process (or, with webhooks,
another instance) handles again what the killed one had not committed. The first run may
already have answered the button's callback query, or made the very edit the second run
makes. Telegram then refuses the repeat: "query is too old … or query ID is invalid",
"message is not modified". Raised, either refusal would abort the handler and roll back
the update's work, which is exactly the work the second run is there to do; the person
would lose their press. A callback query also expires on its own after a while, so a
press handled late (a slow restart, a backlog) meets the same refusal.

These refusals are harmless to ignore: the spinner has stopped or the message already
reads as it should. They are logged at INFO and the call returns as if it had succeeded.
Any other error is raised as before.

A press an operator queued again after it failed (``voy updates retry``) is not answered
at all: the failure's apology answered its query, which has likely expired since.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Message
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.context import current_scope

_log = logging.getLogger(__name__)

# Telegram's descriptions (PTB drops the "Bad Request: " prefix), lower-cased.
QUERY_GONE = ("query is too old", "query id is invalid")
UNCHANGED = ("message is not modified",)


def _refused(error: BadRequest, reasons: tuple[str, ...]) -> bool:
    return any(reason in error.message.lower() for reason in reasons)


class TolerantBot(ExtBot[Any]):
    """``ExtBot`` that treats an expired callback query and an edit that changes nothing
    as done (see the module's docstring)."""

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        """Answer a callback query; one that expired (or was answered) counts as answered."""
        scope = current_scope()
        if scope is not None and scope.late_since is not None:
            _log.info("a requeued press: its query was answered when it failed")
            return True
        try:
            return await super().answer_callback_query(*args, **kwargs)
        except BadRequest as error:
            if not _refused(error, QUERY_GONE):
                raise
            _log.info("callback query already answered or expired; going on")
            return True

    async def edit_message_text(self, *args: Any, **kwargs: Any) -> Message | bool:
        """Edit a message's text; an edit that changes nothing counts as made."""
        return await self._unchanged_ok(super().edit_message_text(*args, **kwargs))

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Message | bool:
        """Edit a message's buttons; an edit that changes nothing counts as made."""
        return await self._unchanged_ok(super().edit_message_reply_markup(*args, **kwargs))

    async def edit_message_caption(self, *args: Any, **kwargs: Any) -> Message | bool:
        """Edit a message's caption; an edit that changes nothing counts as made."""
        return await self._unchanged_ok(super().edit_message_caption(*args, **kwargs))

    @staticmethod
    async def _unchanged_ok(call: Any) -> Message | bool:
        try:
            result: Message | bool = await call
        except BadRequest as error:
            if not _refused(error, UNCHANGED):
                raise
            _log.info("message already as edited; going on")
            return True
        return result
