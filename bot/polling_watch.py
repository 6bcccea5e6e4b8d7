"""Whether another instance polls this bot's token.

Telegram serves one ``getUpdates`` long poll per token at a time: when another starts,
it ends the one waiting with 409 Conflict ("terminated by other getUpdates request").
Two instances polling one token take turns ending each other's polls, each fetching part
of the updates, and PTB's updater retries every 409 after a pause, forever. One 409
happens on a restart (the old process's poll still open at Telegram);
``CONFLICTS_TO_REPORT`` within ``CONFLICT_WINDOW_S`` is another instance. From then until
no 409 has come for ``CONFLICT_WINDOW_S`` (longer than PTB's longest pause between
retries, 30 s, plus a poll), ``/healthz`` reports this instance unhealthy.
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


class PollingWatch:
    """Counts the 409 Conflicts of this instance's ``getUpdates`` calls."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with no conflict; ``clock`` gives seconds (monotonic)."""
        self._clock = clock
        self._conflicts: deque[float] = deque()
        self.conflicted = False

    def conflict(self) -> bool:
        """Note a 409; True when it makes the conflict one to report (once until it ends)."""
        now = self._clock()
        self._conflicts.append(now)
        while now - self._conflicts[0] > CONFLICT_WINDOW_S:
            self._conflicts.popleft()
        if self.conflicted or len(self._conflicts) < CONFLICTS_TO_REPORT:
            _log.debug("getUpdates: 409 Conflict (another getUpdates call ended this one)")
            return False
        self.conflicted = True
        _log.warning(
            "another instance is polling this bot's token: getUpdates answered 409 Conflict "
            "%d times within %g s; /healthz reports unhealthy until that stops",
            len(self._conflicts),
            CONFLICT_WINDOW_S,
        )
        return True

    def answered(self) -> None:
        """A ``getUpdates`` call succeeded: the conflict ends once none came for the window."""
        if self.conflicted and self.problem() is None:
            self.conflicted = False
            self._conflicts.clear()
            _log.warning(
                "no 409 Conflict for %g s: this instance polls alone again", CONFLICT_WINDOW_S
            )

    def problem(self) -> str | None:
        """``polling_conflict`` while another instance polls the token, else None."""
        if self.conflicted and self._clock() - self._conflicts[-1] <= CONFLICT_WINDOW_S:
            return REASON
        return None
