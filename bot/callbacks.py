"""Typed, versioned callback data (``v1:<action>:<arg>…``) for inline buttons.

Buttons never carry free text: every payload is built here and parsed back here, so a
forged or stale payload is recognised and refused instead of reaching a service.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

VERSION = "v1"
MAX_BYTES = 64  # Telegram's limit for callback_data
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_ID = re.compile(r"^[0-9]{1,10}$")
_MAX_ID = 2**31 - 1  # database ids are 32-bit integers on PostgreSQL

# Each action's arguments: "code" (a short identifier) or "id" (a database id).
ACTIONS: dict[str, tuple[str, ...]] = {
    "lang": ("code",),  # choose a locale
    "rgn": ("code",),  # open a region's children in the picker ("-" for the top level)
    "rgs": ("code",),  # set the user's region
    "rgm": ("code", "id"),  # another page of a large level of the picker (region or "-", page)
    "ok": ("id",),  # the automatic answer solved it (match log id)
    "hum": ("id",),  # ask a person instead (match log id)
    "pick": ("id", "id"),  # choose a suggestion (match log id, entry id)
    "none": ("id",),  # none of the suggestions fits (match log id)
    # Cadre card buttons, each on a question id.
    "qans": ("id",),  # answer: the next text is the answer
    "qpass": ("id",),  # show colleagues to pass to
    "qpto": ("id", "id"),  # pass to (question id, cadre id)
    "qfwd": ("id",),  # forward to a department: the next text is its name
    "qkey": ("id",),  # mark as a key suggestion
    "qspam": ("id",),  # close as spam
    "qclaim": ("id",),  # take from the pool
    "qopen": ("id",),  # the card again (from /queue or /overdue)
    "qfaq": ("id", "id"),  # answer with an FAQ entry (question id, entry id)
    "qnew": ("id",),  # make the answered question a new FAQ entry
    "qalt": ("id", "id"),  # add the question as a phrasing of an entry
    # The young person's buttons on an answered question.
    "qok": ("id",),  # resolved
    "qfu": ("id",),  # follow up: the next text goes to the same cadre
    "idn": ("id",),  # let cadres see my name on this question
    "myq": ("id",),  # /my: what became of this question
    "myw": ("id",),  # /my: what became of this wish
    # Micro-wishes.
    "wd": ("code", "code"),  # a button answer in the draft (step, value)
    "wnew": (),  # start a new wish (the button in /start's menu)
    "wsub": ("code",),  # submit the draft (its serial)
    "wedit": ("code",),  # show what can be changed (the draft's serial)
    "wed": ("code", "code"),  # change one field of the draft (field, the draft's serial)
    "wcan": ("code",),  # cancel the draft (its serial)
    "wask": ("code",),  # the draft's text was a question: ask it (the text's checksum)
    "wside": ("code",),  # a text typed at a button step: ask it, keep the draft (checksum)
    "wrv": ("id", "code"),  # a reviewer's decision (wish id, approve|return|reject)
    "wro": ("id",),  # open a waiting wish's review card (from /review)
    "wre": ("id",),  # edit a returned wish and resubmit
    "wwd": ("id",),  # withdraw a wish (once claimed: ask its claimer to let it go)
    "wwy": ("id", "id"),  # the claimer agrees to the owner's request (wish id, request id)
    "wwk": ("id", "id"),  # the claimer keeps the wish instead (wish id, request id)
    "wcl": ("id",),  # claim a published wish
    "wfl": ("id",),  # the claimer fulfilled it: proof follows
    "wpr": ("id",),  # the claimer is still working on it
    "wok": ("id",),  # received
    "wno": ("id",),  # not received
    "wls": ("code", "code"),  # list published wishes (region or "-", category or "-")
    # Data rights: /forget's confirmation, on the asking user's id (stale once forgotten).
    "fgy": ("id",),  # yes, erase my data
    "fgn": ("id",),  # no, keep it
    # Subscriptions and committee broadcasts.
    "sbt": ("code", "code"),  # follow ("1") or unfollow ("0") a topic
    "sba": ("code",),  # turn all announcements off ("1") or on ("0")
    "sbu": ("id",),  # the unsubscribe button under a broadcast (broadcast id)
    "bcr": ("id", "code"),  # toggle a region of a draft broadcast ("all" for every one)
    "bct": ("id", "code"),  # toggle a topic of a draft broadcast ("all" for any)
    "bcn": ("id", "code"),  # go on from a step (regions|topics)
    "bco": ("id", "code"),  # open a region's branch in a large grid ("-" for the top)
    "bcok": ("id",),  # confirm and send
    "bced": ("id",),  # change the text
    "bcx": ("id",),  # cancel the draft
    "bcl": (),  # refresh /broadcasts
}


def _valid(kind: str, arg: str) -> bool:
    if kind == "id":
        return bool(_ID.match(arg)) and int(arg) <= _MAX_ID
    return bool(_CODE.match(arg))


class InvalidCallback(ValueError):
    """Raised when callback data is malformed, of another version, or unknown."""


@dataclass(frozen=True, slots=True)
class Callback:
    """A parsed callback payload."""

    action: str
    args: tuple[str, ...]

    def pack(self) -> str:
        """Encode as ``v1:action:args``; raises if it would not fit Telegram's limits."""
        kinds = ACTIONS.get(self.action)
        if kinds is None or len(kinds) != len(self.args):
            raise InvalidCallback(f"bad action or arity: {self.action}/{len(self.args)}")
        for kind, arg in zip(kinds, self.args, strict=True):
            if not _valid(kind, arg):
                raise InvalidCallback(f"not a valid {kind} in callback data: {arg!r}")
        data = ":".join((VERSION, self.action, *self.args))
        if len(data.encode()) > MAX_BYTES:
            raise InvalidCallback(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @property
    def arg(self) -> str:
        """The first argument."""
        return self.args[0]

    def id(self, position: int = 0) -> int:
        """The argument at ``position`` as a database id (validated when parsed)."""
        return int(self.args[position])


def pack(action: str, *args: str | int) -> str:
    """Build callback data for ``action`` with ``args``."""
    return Callback(action, tuple(str(arg) for arg in args)).pack()


def unpack(data: str | None) -> Callback:
    """Parse callback data; raise :class:`InvalidCallback` for anything we did not build."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise InvalidCallback("empty or oversized callback data")
    version, _, rest = data.partition(":")
    if version != VERSION:
        raise InvalidCallback(f"unknown callback version: {version!r}")
    action, *args = rest.split(":")
    callback = Callback(action, tuple(args))
    callback.pack()  # validates action, arity and arguments
    return callback


def matches(action: str) -> Callable[[object], bool]:
    """Return a CallbackQueryHandler pattern accepting only well-formed data of ``action``.

    Malformed data falls through to the catch-all handler, which refuses it politely.
    """

    def check(data: object) -> bool:
        if not isinstance(data, str):
            return False
        try:
            return unpack(data).action == action
        except InvalidCallback:
            return False

    return check
