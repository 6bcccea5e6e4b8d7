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

An update tried again after a passing error (``bot/edge.py``) runs its handlers again,
and they send their replies again. Each update keeps a journal of what it sent (its
scope's ``sent``), and an attempt after the first pairs its sends with the earlier ones,
in order, per chat and method: the same message is not sent again, and a text message
that now reads differently (a question's number taken anew after the rollback) is
edited to read as it should. The person sees one reply, and it is right.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, InputFile, Message, TelegramObject
from telegram.error import BadRequest
from telegram.ext import ExtBot
from telegram.request import BaseRequest

from bot.context import current_scope

_log = logging.getLogger(__name__)

# Telegram's descriptions (PTB drops the "Bad Request: " prefix), lower-cased.
QUERY_GONE = ("query is too old", "query id is invalid")
UNCHANGED = ("message is not modified",)


def _refused(error: BadRequest, reasons: tuple[str, ...]) -> bool:
    return any(reason in error.message.lower() for reason in reasons)


# The calls that put a new message in a chat: an attempt after the first must not repeat them.
SENDS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "copyMessage",
        "forwardMessage",
    }
)
# What an edit of a sent text message can change.
_EDITABLE = ("text", "parse_mode", "entities", "reply_markup", "link_preview_options")


@dataclass
class Sent:
    """A message an update's handling sent, in its journal."""

    endpoint: str
    chat_id: object
    data: dict[str, Any]
    result: Any


POPUP_MAX = 200


def _popup(text: str) -> str:
    return text if len(text) <= POPUP_MAX else text[: POPUP_MAX - 1] + "…"


class TolerantBot(ExtBot[Any]):
    """``ExtBot`` that treats an expired callback query and an edit that changes nothing
    as done (see the module's docstring)."""

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        """Answer a callback query; one that expired (or was answered) counts as answered."""
        scope = current_scope()
        if scope is not None and scope.late_since is not None:
            # Answered when it failed (and likely expired since); what the answer would
            # have said comes as a message instead.
            text = kwargs.get("text") or (args[1] if len(args) > 1 else None)
            if text and scope.chat_id is not None:
                await self.send_message(scope.chat_id, text)
            _log.info("a requeued press: its query was answered when it failed")
            return True
        # Telegram takes at most 200 characters (a pop-up naming someone could pass them).
        if isinstance(kwargs.get("text"), str):
            kwargs["text"] = _popup(kwargs["text"])
        elif len(args) > 1 and isinstance(args[1], str):
            args = (args[0], _popup(args[1]), *args[2:])
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

    async def _do_post(
        self,
        endpoint: str,
        data: dict[str, Any],
        *,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> Any:
        """Make the call; a send while an update is handled goes through its journal."""

        async def call(method: str, parameters: dict[str, Any]) -> Any:
            return await super(TolerantBot, self)._do_post(
                method,
                parameters,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )

        scope = current_scope()
        if scope is None or endpoint not in SENDS:
            return await call(endpoint, data)
        return await _once(scope.sent, scope.replayed, endpoint, data, call)


async def _once(
    journal: list[Sent],
    replayed: set[int],
    endpoint: str,
    data: dict[str, Any],
    call: Callable[[str, dict[str, Any]], Awaitable[Any]],
) -> Any:
    """Send, unless an earlier attempt at the update sent this (see the module's docstring).

    ``replayed``: the journal entries this attempt has already paired with a send.
    """
    chat = data.get("chat_id")
    for index, sent in enumerate(journal):
        if index in replayed or sent.endpoint != endpoint or sent.chat_id != chat:
            continue
        replayed.add(index)  # the earlier attempt's send in this place, whatever follows
        if _plain(sent.data) == _plain(data):
            _log.info("%s was made by an earlier attempt at this update; not again", endpoint)
            return sent.result
        if endpoint == "sendMessage" and _inline_or_none(data.get("reply_markup")):
            edit = {key: data[key] for key in _EDITABLE if key in data}
            edit.update(chat_id=chat, message_id=sent.result["message_id"])
            try:
                sent.result = await call("editMessageText", edit)
            except BadRequest:
                _log.info("could not edit the earlier attempt's message; sending anew")
                break
            sent.data = data
            _log.info("the earlier attempt's message is edited to read as this one")
            return sent.result
        break
    result = await call(endpoint, data)
    journal.append(Sent(endpoint, chat, data, result))
    replayed.add(len(journal) - 1)
    return result


def compact(journal: list[Sent]) -> list[Sent]:
    """``journal`` with its parameters as plain data, to keep while the update waits for
    its next attempt: an upload's bytes are kept as their hash."""
    return [Sent(s.endpoint, s.chat_id, _plain_dict(s.data), s.result) for s in journal]


def _plain_dict(data: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(value) for key, value in data.items()}


def _plain(value: object) -> object:
    """``value`` as plain data, to compare two calls' parameters (an upload by its name
    and the hash of its bytes); plain data stays as it is."""
    if isinstance(value, InputFile):
        content = value.input_file_content
        key = hashlib.sha256(content).hexdigest() if isinstance(content, bytes) else id(content)
        return f"file:{value.filename}:{key}"
    if isinstance(value, TelegramObject):
        return _plain(value.to_dict())
    if isinstance(value, dict):
        return _plain_dict(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _inline_or_none(markup: object) -> bool:
    return markup is None or isinstance(markup, InlineKeyboardMarkup)
