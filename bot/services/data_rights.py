"""Data rights, shared parts: what is personal, where it lives, and how it is blanked.

``/mydata`` (bot.services.data_export), ``/forget`` (bot.services.data_forget) and the
retention purge (bot.services.retention) all work from the inventory below. A test
introspects the models and fails when a table that can hold a person's data is neither
covered here nor excluded with a reason, so a new table cannot be forgotten silently.
"""

from __future__ import annotations

import hashlib
import hmac
import re

# What replaces personal text: the same in every language, so it needs no catalog.
PURGED = "⊘"

# A forgotten user's row keeps its id (so anonymous counts add up) but loses the
# Telegram id: it becomes this base plus the row id, far below any real chat id (group
# ids are around -10**12), so it can never match a person or a chat again.
_FORGOTTEN_BASE = -(2**62)

# Tables holding a person's data, and how each is exported and forgotten.
COVERED_TABLES: dict[str, str] = {
    "users": "profile; forget blanks name, language, roles and the Telegram id",
    "questions": "every ticket; texts blanked, state/region/topic/timestamps kept",
    "question_messages": "the thread of each ticket; texts blanked",
    "question_events": "the audit log of each ticket (staff by pseudonym); kept",
    "match_log": "FAQ matches; query text blanked, Telegram id replaced",
    "faq_phrasings": "phrasings learned from the person's words; deleted",
    "faq_revisions": "entry snapshots holding learned phrasings; those texts blanked",
    "wishes": "every wish; texts, photos and personal fields blanked",
    "wish_events": "the audit log of each wish; free-text reasons blanked",
    "conversations": "what the bot waits for in their chat (drafts); deleted",
    "inbound_messages": "everything they sent; text and raw update blanked",
    "outbox": "messages to them, and staff cards about their items; texts blanked",
    "personal_data_access": "who was shown their data; ids only, kept for the DPO",
    "subscriptions": "the topics they follow for announcements; deleted",
    "announcement_preferences": "whether they turned announcements off; deleted",
}

# Tables with a person-like column that deliberately hold no young person's data.
EXCLUDED_TABLES: dict[str, str] = {
    "cadres": "staff records from the org file; removed with `voy cadre remove`",
    "cadre_invites": "staff invitations; used_by is the joining cadre's Telegram id",
    "faq_entries": "updated_by names a user only by internal id; learned texts are in "
    "faq_phrasings",
    "broadcasts": "announcements written by committee admins (staff); a young person "
    "appears only as an outbox recipient",
    "erasures": "who used /forget, as a keyed hash of the Telegram id (no id, no data), "
    "kept so the erasure can be applied again after a restore",
}

_CADRE_REF = re.compile(r"cadre:(\d+)")
_USER_REF = re.compile(r"user:(\d+)")


def forgotten_telegram_id(user_id: int) -> int:
    """The placeholder Telegram id of a forgotten user's row."""
    return _FORGOTTEN_BASE + user_id


def staff_code(kind: str, staff_id: int, secret: str) -> str:
    """A pseudonym for a staff member in a young person's export, e.g. ``staff-3F2A``.

    Keyed like the youth pseudonyms, so it cannot be turned back into an id without the
    deployment's secret; stable, so one cadre's answers can be told apart.
    """
    digest = hmac.new(secret.encode(), f"staff:{kind}:{staff_id}".encode(), hashlib.sha256)
    return f"staff-{digest.hexdigest()[:4].upper()}"


def describe_actor(actor: str, *, self_user_id: int, secret: str) -> str:
    """An audit log actor ("user:3", "cadre:2", "system") as the young person may see it."""
    if actor == f"user:{self_user_id}":
        return "you"
    return pseudonymise_refs(actor, self_user_id=self_user_id, secret=secret)


def pseudonymise_refs(text: str, *, self_user_id: int, secret: str) -> str:
    """Replace ``cadre:N`` and ``user:N`` in an audit note by pseudonyms (or "you")."""
    text = _CADRE_REF.sub(lambda m: staff_code("cadre", int(m.group(1)), secret), text)

    def user(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return "you" if number == self_user_id else staff_code("user", number, secret)

    return _USER_REF.sub(user, text)
