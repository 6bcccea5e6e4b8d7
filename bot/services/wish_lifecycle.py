"""The wish lifecycle: one ``transitions`` machine, the state in the row's column.

submitted → approved (published) | returned (the youth edits and resubmits) | rejected;
approved → claimed → fulfilled (with proof) → confirmed (received) | disputed → closed.
The youth may withdraw until it is claimed; an idle claim is released back to approved.
A claimed wish is not theirs alone to withdraw (the claimer may have bought it already):
their "withdraw" asks the claimer (``ask_withdraw``, the wish stays claimed), who agrees
(``agree_withdraw``: withdrawn) or keeps it (``keep``). The request belongs to the claim:
if the claim is released while it waits, the sweep withdraws the wish as asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from transitions import Machine

from storage.wishes import Wish, WishEvent

__all__ = ["MACHINE", "IllegalWishTransition", "WishEvent", "fire"]

SUBMITTED = "submitted"
APPROVED = "approved"  # published: cadres and donors can claim it
RETURNED = "returned"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
CLAIMED = "claimed"
FULFILLED = "fulfilled"
CONFIRMED = "confirmed"
DISPUTED = "disputed"
CLOSED = "closed"

STATES = (
    SUBMITTED,
    APPROVED,
    RETURNED,
    REJECTED,
    WITHDRAWN,
    CLAIMED,
    FULFILLED,
    CONFIRMED,
    DISPUTED,
    CLOSED,
)
# A claimer's open claims: these count toward the "1 cadre ↔ 5 wishes" cap.
OPEN_CLAIMS = (CLAIMED,)
# The same person's wishes that block a duplicate.
OPEN = (SUBMITTED, RETURNED, APPROVED, CLAIMED, FULFILLED, DISPUTED)

_TRANSITIONS: list[Any] = [
    {"trigger": "approve", "source": SUBMITTED, "dest": APPROVED},
    {"trigger": "return_for_edits", "source": SUBMITTED, "dest": RETURNED},
    {"trigger": "reject", "source": SUBMITTED, "dest": REJECTED},
    {"trigger": "resubmit", "source": RETURNED, "dest": SUBMITTED},
    {"trigger": "withdraw", "source": [SUBMITTED, RETURNED, APPROVED], "dest": WITHDRAWN},
    {"trigger": "claim", "source": APPROVED, "dest": CLAIMED},
    # An idle claim; or a claimer who may no longer claim (a removed cadre), also while
    # the young person disputes the delivery: back on offer for someone else.
    {"trigger": "release", "source": [CLAIMED, DISPUTED], "dest": APPROVED},
    # After "not received" the claimer is still on it, and can deliver again with new
    # proof: the young person is asked to confirm again.
    {"trigger": "progress", "source": [CLAIMED, DISPUTED], "dest": None},
    {"trigger": "fulfil", "source": [CLAIMED, DISPUTED], "dest": FULFILLED},
    {"trigger": "confirm", "source": [FULFILLED, DISPUTED], "dest": CONFIRMED},
    {"trigger": "dispute", "source": FULFILLED, "dest": DISPUTED},
    {"trigger": "close", "source": [CONFIRMED, FULFILLED, DISPUTED], "dest": CLOSED},
    # The owner asked to be forgotten after it was claimed (see bot.services.data_forget).
    {"trigger": "owner_left", "source": CLAIMED, "dest": WITHDRAWN},
    # The owner asks the claimer to let a claimed wish go; the claimer agrees or keeps it.
    {"trigger": "ask_withdraw", "source": CLAIMED, "dest": None},
    {"trigger": "agree_withdraw", "source": CLAIMED, "dest": WITHDRAWN},
    {"trigger": "keep", "source": CLAIMED, "dest": None},
]

MACHINE = Machine(
    model=None,
    states=list(STATES),
    transitions=_TRANSITIONS,
    initial=SUBMITTED,
    auto_transitions=False,
)


# Why a wish closed (the ``close`` event's note): the young person confirmed receipt,
# or the sweep closed it, fulfilled but never confirmed, or disputed and never settled.
CLOSED_RECEIVED = "received"
CLOSED_UNCONFIRMED = "unconfirmed"
# A ``withdraw`` by the sweep (its note): returned for edits and never resubmitted.
WITHDRAWN_LAPSED = "not resubmitted"
CLOSED_UNSETTLED = "dispute not settled"
# The note of an ``agree_withdraw`` (the claimer's) or of the sweep's ``withdraw`` after
# releasing a claim while the owner's request waited: the young person had asked.
WITHDRAWN_ASKED = "the young person asked to withdraw it"


@dataclass(frozen=True)
class WithdrawRequest:
    """The owner's request to withdraw a claimed wish, under its current claim."""

    asked: WishEvent  # the ``ask_withdraw`` event (its id names the request on buttons)
    kept: WishEvent | None  # the claimer's ``keep``, if that was the answer

    @property
    def pending(self) -> bool:
        """Whether the claimer has still to answer."""
        return self.kept is None


def withdraw_request(wish: Wish) -> WithdrawRequest | None:
    """The owner's request to withdraw ``wish``, if it is claimed and one was made since
    it was claimed (a request ends with its claim: agreed, it is withdrawn; released, the
    sweep withdraws it; fulfilled, it was delivered)."""
    if wish.status != CLAIMED:
        return None
    asked: WishEvent | None = None
    kept: WishEvent | None = None
    for event in reversed(wish.events):
        if event.trigger == "claim":
            break
        if event.trigger == "keep" and asked is None:
            kept = event
        elif event.trigger == "ask_withdraw" and asked is None:
            asked = event
    if asked is None:
        return None
    return WithdrawRequest(asked, kept)


def status_label(wish: Wish) -> str:
    """The key of the wish's state as the young person sees it (``wish_status.…``): a
    closed wish says how it closed, so one never received does not read as done."""
    if wish.status == WITHDRAWN:
        note = next((e.note for e in reversed(wish.events) if e.trigger == "withdraw"), "")
        return "withdrawn_lapsed" if note == WITHDRAWN_LAPSED else WITHDRAWN
    if wish.status == CLAIMED:
        request = withdraw_request(wish)
        if request is not None:
            return "claimed_withdraw_asked" if request.pending else "claimed_kept"
    if wish.status == CLOSED:
        note = next((e.note for e in reversed(wish.events) if e.trigger == "close"), "")
        if note == CLOSED_UNCONFIRMED:
            return "closed_unconfirmed"
        if note == CLOSED_UNSETTLED:
            return "closed_unsettled"
    return wish.status


# The state an :class:`IllegalWishTransition` names when someone else changed the wish
# between loading and saving it (the version check refused the write).
CHANGED_MEANWHILE = "changed"


class IllegalWishTransition(Exception):
    """The trigger is not allowed from the wish's current state."""

    def __init__(self, wish_id: int, state: str, trigger: str) -> None:
        """Describe the refused move."""
        super().__init__(f"wish {wish_id}: cannot {trigger} when {state}")
        self.wish_id, self.state, self.trigger = wish_id, state, trigger


def fire(wish: Wish, trigger: str, *, actor: str, now: datetime, note: str = "") -> None:
    """Move ``wish`` by ``trigger`` and record it; refuse an illegal move."""
    transitions = MACHINE.get_transitions(trigger=trigger, source=wish.status)
    if not transitions:
        raise IllegalWishTransition(wish.id, wish.status, trigger)
    before = wish.status
    if transitions[0].dest is not None:
        wish.status = transitions[0].dest
    wish.events.append(
        WishEvent(
            wish_id=wish.id,
            trigger=trigger,
            from_state=before,
            to_state=wish.status,
            actor=actor[:64],
            note=note[:500],
            created_at=now,
        )
    )
