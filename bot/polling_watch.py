"""Whether another instance polls this bot's token.

Telegram serves one ``getUpdates`` long poll per token at a time: when another starts,
it ends the one waiting with 409 Conflict ("terminated by other getUpdates request").
Two instances polling one token take turns ending each other's polls, each fetching part
of the updates, and PTB's updater retries every 409 after a pause, forever. One 409
happens on a restart (the old process's poll still open at Telegram);
``CONFLICTS_TO_REPORT`` within ``CONFLICT_WINDOW_S`` is another instance. From then until
no 409 has come for ``CONFLICT_WINDOW_S`` (longer than PTB's longest pause between
retries, 30 s, plus a poll), ``/healthz`` reports this instance unhealthy.

Telegram also answers 409 when a webhook is set for the token ("can't use getUpdates
method while webhook is active"): then no poll gets through at all, and the reason is
``webhook_set`` rather than ``polling_conflict``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

_log = logging.getLogger(__name__)

CONFLICTS_TO_REPORT = 3
CONFLICT_WINDOW_S = 60.0
REASON = "polling_conflict"
WEBHOOK_SET = "webhook_set"


class PollingWatch:
    """Counts the 409 Conflicts of this instance's ``getUpdates`` calls."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with no conflict; ``clock`` gives seconds (monotonic)."""
        self._clock = clock
        self._conflicts: deque[float] = deque()
        self._reason = REASON
        self._reported: str | None = None  # the reason reported in this conflict
        self.conflicted = False

    def conflict(self, reason: str = REASON) -> bool:
        """Note a 409 (``reason``: ``polling_conflict`` or ``webhook_set``); True when it
        is one to report: once until the conflict ends, unless :meth:`unreported`."""
        now = self._clock()
        self._conflicts.append(now)
        self._reason = reason
        while now - self._conflicts[0] > CONFLICT_WINDOW_S:
            self._conflicts.popleft()
        if not self.conflicted and len(self._conflicts) >= CONFLICTS_TO_REPORT:
            self.conflicted = True
            _log.warning(
                "%s: getUpdates answered 409 Conflict %d times within %g s; /healthz "
                "reports unhealthy until that stops",
                "a webhook is set for this bot's token"
                if reason == WEBHOOK_SET
                else "another instance is polling this bot's token",
                len(self._conflicts),
                CONFLICT_WINDOW_S,
            )
        elif not self.conflicted:
            _log.debug("getUpdates: 409 Conflict (%s)", reason)
        if not self.conflicted or self._reported == reason:
            return False  # (another reason, say a webhook set by the other instance since,
        self._reported = reason  # is reported too)
        return True

    def unreported(self) -> None:
        """The report could not be sent: the next 409 while conflicted reports again."""
        self._reported = None

    def answered(self) -> None:
        """A ``getUpdates`` call succeeded: the conflict ends once none came for the window."""
        if self.conflicted and self.problem() is None:
            self.conflicted = False
            self._reported = None
            self._conflicts.clear()
            _log.warning(
                "no 409 Conflict for %g s: this instance polls alone again", CONFLICT_WINDOW_S
            )

    def problem(self) -> str | None:
        """``polling_conflict`` while another instance polls the token, ``webhook_set``
        while a webhook is set for it; else None."""
        if self.conflicted and self._clock() - self._conflicts[-1] <= CONFLICT_WINDOW_S:
            return self._reason
        return None
