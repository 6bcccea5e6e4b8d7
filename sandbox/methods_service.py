"""Bot API methods around the messages: updates, webhook, commands, chats, files, callbacks."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from sandbox import rules
from sandbox.core import SandboxCore
from sandbox.errors import bad_request

Params = dict[str, Any]
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


async def get_me(core: SandboxCore, params: Params) -> Any:
    """getMe."""
    flags = ("can_read_all_group_messages", "supports_inline_queries", "can_connect_to_business")
    return {**core.bot_user, "can_join_groups": True, **dict.fromkeys(flags, False)}


async def get_updates(core: SandboxCore, params: Params) -> Any:
    """getUpdates: long polling; updates below ``offset`` are acknowledged and dropped."""
    limit = params.get("limit") or 100
    return await core.updates.get_updates(
        params.get("offset"),
        max(1, min(limit, 100)),
        float(params.get("timeout") or 0),
        params.get("allowed_updates"),
    )


_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def set_webhook(core: SandboxCore, params: Params) -> Any:
    """setWebhook (plain http is allowed: the sandbox only talks to loopback bots)."""
    url = params["url"]
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise bad_request("bad webhook: invalid URL")  # Telegram wants https; see README
    secret = params.get("secret_token")
    if secret is not None and not _SECRET.fullmatch(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    connections = params.get("max_connections")
    if connections is not None and not 1 <= int(connections) <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    if not url:
        core.updates.delete_webhook(bool(params.get("drop_pending_updates")))
    else:
        core.updates.set_webhook(params)
    return True


async def delete_webhook(core: SandboxCore, params: Params) -> Any:
    """deleteWebhook."""
    core.updates.delete_webhook(bool(params.get("drop_pending_updates")))
    return True


async def get_webhook_info(core: SandboxCore, params: Params) -> Any:
    """getWebhookInfo."""
    return core.updates.info()


def _commands_key(params: Params) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)


async def set_my_commands(core: SandboxCore, params: Params) -> Any:
    """setMyCommands."""
    rules.bot_commands(params["commands"])
    core.commands[_commands_key(params)] = params["commands"]
    return True


async def get_my_commands(core: SandboxCore, params: Params) -> Any:
    """getMyCommands (exactly the given scope and language, as Telegram does)."""
    return core.commands.get(_commands_key(params), [])


async def delete_my_commands(core: SandboxCore, params: Params) -> Any:
    """deleteMyCommands."""
    core.commands.pop(_commands_key(params), None)
    return True


async def answer_callback_query(core: SandboxCore, params: Params) -> Any:
    """answerCallbackQuery: once per query; text up to 200 characters."""
    rules.callback_answer_text(params.get("text"))
    query = core.callbacks.get(params["callback_query_id"])
    if query is None or query["answered"]:
        raise bad_request(_QUERY_INVALID)
    query.update(
        answered=True,
        text=params.get("text"),
        show_alert=bool(params.get("show_alert")),
        url=params.get("url"),
    )
    core.events.append(
        "callback_answer",
        chat_id=query["chat_id"],
        callback_query_id=query["id"],
        message_id=query["message_id"],
        text=query["text"],
        show_alert=query["show_alert"],
        url=query["url"],
    )
    return True


async def send_chat_action(core: SandboxCore, params: Params) -> Any:
    """sendChatAction."""
    rules.chat_action(params["action"])
    chat = core.world.chat_for_bot(params["chat_id"])
    core.events.append("chat_action", chat_id=chat.id, action=params["action"])
    return True


async def get_chat(core: SandboxCore, params: Params) -> Any:
    """getChat: a ChatFullInfo with the fields PTB requires."""
    chat = core.world.chat_for_bot(params["chat_id"], sending=False)
    gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
    return {
        **chat.telegram(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
    }


def _member(core: SandboxCore, chat_id: int, user_id: int) -> dict[str, Any]:
    chat = core.world.chat_for_bot(chat_id, sending=False)
    is_bot = user_id == core.bot_user["id"]
    user = core.bot_user if is_bot else core.world.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    if chat.type == "private":
        status = "member" if user_id in (chat.id, core.bot_user["id"]) else "left"
    elif user_id == chat.creator:
        return {"status": "creator", "user": user, "is_anonymous": False}
    elif user_id in chat.admins:
        # Every right the spec makes required (so PTB can build the object) is granted.
        shape = core.spec.type("ChatMemberAdministrator")
        rights = [f for f in (shape.required() if shape else []) if f.startswith("can_")]
        member = {"status": "administrator", "user": user, "is_anonymous": False}
        return {**member, **dict.fromkeys(rights, True)}
    else:
        status = "member" if is_bot or user_id in chat.members else "left"
    return {"status": status, "user": user}


async def get_chat_member(core: SandboxCore, params: Params) -> Any:
    """getChatMember: creator/administrator/member/left from the sandbox's group setup."""
    return _member(core, params["chat_id"], params["user_id"])


async def get_chat_administrators(core: SandboxCore, params: Params) -> Any:
    """getChatAdministrators (bots are never admins in the sandbox)."""
    chat = core.world.chat_for_bot(params["chat_id"], sending=False)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    ids = ([chat.creator] if chat.creator else []) + sorted(chat.admins - {chat.creator})
    return [_member(core, chat.id, user_id) for user_id in ids if user_id in core.world.users]


async def get_file(core: SandboxCore, params: Params) -> Any:
    """getFile."""
    record = core.files.get(params["file_id"])
    if record is None:
        raise bad_request("invalid file_id")
    return {**record.telegram(), "file_id": params["file_id"]}


async def ok_true(core: SandboxCore, params: Params) -> Any:
    """close / logOut / set-my-profile methods: accepted and ignored."""
    return True


HANDLERS = {
    "getme": get_me,
    "getupdates": get_updates,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "answercallbackquery": answer_callback_query,
    "sendchataction": send_chat_action,
    "getchat": get_chat,
    "getchatmember": get_chat_member,
    "getchatadministrators": get_chat_administrators,
    "getfile": get_file,
    "close": ok_true,
    "logout": ok_true,
    "setmydescription": ok_true,
    "setmyshortdescription": ok_true,
    "setchatmenubutton": ok_true,
}
