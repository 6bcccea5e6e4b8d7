"""The question lifecycle: one ``transitions`` machine, the state kept in the row's column.

The machine is defined once and holds no rows: :func:`fire` asks it which transition a
trigger takes from the row's current state, refuses an illegal one with
:class:`IllegalTransition`, and writes the move to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from transitions import Machine

from storage.questions import Question, QuestionEvent

NEW = "new"
AUTO_ANSWERED = "auto_answered"
SUGGESTED = "suggested"
ROUTED = "routed"  # waiting in a pool for a cadre
ASSIGNED = "assigned"
ANSWERED = "answered"
RESOLVED = "resolved"
FORWARDED = "forwarded"  # handed to a department, which answers outside the bot
CLOSED_SPAM = "closed_spam"
# The young person asked to be forgotten while it was open (see bot.services.data_forget).
WITHDRAWN = "withdrawn"

STATES = (
    NEW,
    AUTO_ANSWERED,
    SUGGESTED,
    ROUTED,
    ASSIGNED,
    ANSWERED,
    RESOLVED,
    FORWARDED,
    CLOSED_SPAM,
    WITHDRAWN,
)
# Open for a person: these count toward a cadre's load and the overdue list.
OPEN_FOR_STAFF = (ROUTED, ASSIGNED)
# States in which the young person is still waiting for something.
OPEN = (NEW, SUGGESTED, ROUTED, ASSIGNED, ANSWERED, FORWARDED)

_TRANSITIONS: list[Any] = [
    {"trigger": "auto_answer", "source": [NEW, SUGGESTED], "dest": AUTO_ANSWERED},
    {"trigger": "suggest", "source": NEW, "dest": SUGGESTED},
    {"trigger": "route", "source": [NEW, AUTO_ANSWERED, SUGGESTED], "dest": ROUTED},
    {"trigger": "assign", "source": [ROUTED, ASSIGNED], "dest": ASSIGNED},
    {"trigger": "unassign", "source": ASSIGNED, "dest": ROUTED},
    {"trigger": "answer", "source": [ROUTED, ASSIGNED, ANSWERED], "dest": ANSWERED},
    # Also after a forward: the department did not answer, or the young person has more;
    # it goes back to the cadre who forwarded it (or is routed again).
    {"trigger": "follow_up", "source": [ANSWERED, RESOLVED, FORWARDED], "dest": ASSIGNED},
    # More from the young person while a cadre is on it or it waits in the pool: same
    # state (the words join the ticket).
    {"trigger": "follow_up", "source": [ASSIGNED, ROUTED], "dest": None},
    {"trigger": "resolve", "source": [AUTO_ANSWERED, ANSWERED, FORWARDED], "dest": RESOLVED},
    {"trigger": "reopen", "source": RESOLVED, "dest": ROUTED},
    {"trigger": "forward", "source": [ROUTED, ASSIGNED, ANSWERED], "dest": FORWARDED},
    {"trigger": "close_spam", "source": [NEW, SUGGESTED, ROUTED, ASSIGNED], "dest": CLOSED_SPAM},
    # Marks that leave the state as it is, but belong in the audit log.
    {
        "trigger": "mark_key",
        "source": [ROUTED, ASSIGNED, ANSWERED, FORWARDED, RESOLVED],
        "dest": None,
    },
    {"trigger": "share_identity", "source": [*OPEN, RESOLVED], "dest": None},
    # Staff reminded of a question still waiting (in the pool: see bot.sweeper).
    {"trigger": "remind", "source": [ASSIGNED, ROUTED], "dest": None},
    # A call for help raised, in the question or in a follow-up (the digest counts these).
    {"trigger": "alert", "source": [*OPEN, RESOLVED], "dest": None},
    # Passed on too often without an answer: the committee was asked to step in.
    {"trigger": "escalate", "source": [ROUTED, ASSIGNED], "dest": None},
    {"trigger": "withdraw", "source": list(OPEN), "dest": WITHDRAWN},
]

# Moves after which the young person waits for staff anew (``Question.waiting_since``):
# handed to a person, to another one, back to the pool, or reopened. Not a pass to a
# colleague: nobody answered, so the young person's wait goes on (else passing a
# question on every day would keep it off /overdue and the digest's overdue list).
WAIT_STARTS = frozenset({"route", "assign", "unassign", "reopen"})
# The note of an ``assign`` that passes the question to a colleague, and of one by the
# committee (an admin): its decision ends a run of passes.
PASS_NOTE = "passed to cadre:"
COMMITTEE_PASS_NOTE = "committee passed to cadre:"
_PASSES = (PASS_NOTE, COMMITTEE_PASS_NOTE)
# A follow-up from these states asks staff again; one while assigned is a nudge.
ASKS_AGAIN = frozenset({ANSWERED, RESOLVED, FORWARDED})

MACHINE = Machine(
    model=None,
    states=list(STATES),
    transitions=_TRANSITIONS,
    initial=NEW,
    auto_transitions=False,
)


class IllegalTransition(Exception):
    """The trigger is not allowed from the question's current state."""

    def __init__(self, question_id: int, state: str, trigger: str) -> None:
        """Describe the refused move."""
        super().__init__(f"question {question_id}: cannot {trigger} when {state}")
        self.question_id, self.state, self.trigger = question_id, state, trigger


def allowed(state: str, trigger: str) -> bool:
    """Return whether ``trigger`` may fire from ``state``."""
    return bool(MACHINE.get_transitions(trigger=trigger, source=state))


def fire(
    question: Question, trigger: str, *, actor: str, now: datetime, note: str = ""
) -> QuestionEvent:
    """Move ``question`` by ``trigger`` and record who did it; refuse an illegal move."""
    transitions = MACHINE.get_transitions(trigger=trigger, source=question.status)
    if not transitions:
        raise IllegalTransition(question.id, question.status, trigger)
    before = question.status
    dest = transitions[0].dest
    if dest is not None:
        question.status = dest
    if trigger != "escalate":  # asking the committee is no activity on the question
        question.last_activity_at = now  # (the sweeper re-offers idle pool questions)
    passed = trigger == "assign" and note.startswith(_PASSES)
    if (trigger in WAIT_STARTS and not passed) or (
        trigger == "follow_up" and before in ASKS_AGAIN
    ):
        question.waiting_since = now
    event = QuestionEvent(
        question_id=question.id,
        trigger=trigger,
        from_state=before,
        to_state=question.status,
        actor=actor[:64],
        note=note[:500],
        created_at=now,
    )
    question.events.append(event)
    return event


def passes(question: Question) -> int:
    """How often cadres passed the question to a colleague in its current run of passes
    (from its audit log): an answer, or the committee passing it on, ends a run."""
    count = 0
    for event in reversed(question.events):
        if event.trigger == "answer" or _committee_pass(event):
            break
        if event.trigger == "assign" and event.note.startswith(PASS_NOTE):
            count += 1
    return count


def escalated(question: Question) -> bool:
    """Whether the committee was asked to step in since the question was last passed on
    or answered (its current run of passes was escalated already)."""
    for event in reversed(question.events):
        if event.trigger == "escalate":
            return True
        if event.trigger == "answer" or (
            event.trigger == "assign" and event.note.startswith(_PASSES)
        ):
            return False
    return False


def _committee_pass(event: QuestionEvent) -> bool:
    return event.trigger == "assign" and event.note.startswith(COMMITTEE_PASS_NOTE)


# Withdrawn by the bot, not by the young person: why (the withdraw event's note).
WITHDRAWN_SUPERSEDED = "superseded"
WITHDRAWN_EDITED = "edited"


def status_label(question: Question) -> str:
    """The key of the question's state as the young person sees it (``status.…``): one
    the bot withdrew for a later message (the same words asked again, or the message
    edited) says so, rather than reading as withdrawn by them."""
    if question.status == WITHDRAWN:
        note = next((e.note for e in reversed(question.events) if e.trigger == "withdraw"), "")
        if note in (WITHDRAWN_SUPERSEDED, WITHDRAWN_EDITED):
            return f"withdrawn_{note}"
    return question.status
