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
_ARG = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")

# Actions and how many arguments each takes.
ACTIONS: dict[str, int] = {
    "lang": 1,  # choose a locale
    "rgn": 1,  # open a region's children in the picker ("-" for the top level)
    "rgs": 1,  # set the user's region
    "ok": 1,  # the automatic answer solved it (match log id)
    "hum": 1,  # ask a person instead (match log id)
    "pick": 2,  # choose a suggestion (match log id, entry id)
    "none": 1,  # none of the suggestions fits (match log id)
}


class InvalidCallback(ValueError):
    """Raised when callback data is malformed, of another version, or unknown."""


@dataclass(frozen=True, slots=True)
class Callback:
    """A parsed callback payload."""

    action: str
    args: tuple[str, ...]

    def pack(self) -> str:
        """Encode as ``v1:action:args``; raises if it would not fit Telegram's limits."""
        if ACTIONS.get(self.action) != len(self.args):
            raise InvalidCallback(f"bad action or arity: {self.action}/{len(self.args)}")
        for arg in self.args:
            if not _ARG.match(arg):
                raise InvalidCallback(f"argument not allowed in callback data: {arg!r}")
        data = ":".join((VERSION, self.action, *self.args))
        if len(data.encode()) > MAX_BYTES:
            raise InvalidCallback(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @property
    def arg(self) -> str:
        """The first argument."""
        return self.args[0]


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
