"""The webhook watch's decisions, one getWebhookInfo state after another (bot.webhook_watch).

Telegram's last delivery error stays in getWebhookInfo after deliveries succeed again, so
what counts is an error newer than at the previous check, with updates pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.webhook_watch import (
    CLEAR_CHECKS,
    FAILING,
    REPLACED,
    Notice,
    WebhookState,
    WebhookWatch,
)

URL = "https://bot.example.org/tg/hook"
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
ERROR = "Wrong response from the webhook: 404 Not Found"


class Checks:
    """A watch fed one state per check, a minute apart."""

    def __init__(self) -> None:
        self.watch = WebhookWatch()
        self.watch.watch(URL)
        self.now = T0

    def check(
        self,
        pending: int = 0,
        error_date: int | None = None,
        error: str | None = ERROR,
        url: str = URL,
    ) -> Notice | None:
        """Observe one state; return what the ops chat should be told then."""
        self.now += timedelta(minutes=1)
        state = WebhookState(
            url=url,
            pending=pending,
            error_date=error_date,
            error_message=error if error_date is not None else None,
        )
        self.watch.observe(state, self.now)
        return self.watch.due()

    def tell(self) -> Notice:
        """What is due, sent."""
        notice = self.watch.due()
        assert notice is not None
        self.watch.told(notice)
        return notice


def test_a_newer_error_with_updates_pending_begins_an_episode_alerted_once() -> None:
    checks = Checks()
    assert checks.check() is None and checks.watch.problem() is None
    notice = checks.check(pending=3, error_date=1000)
    assert checks.watch.problem() == FAILING
    assert notice is not None and notice.kind == "alert"
    assert notice.episode.detail == ERROR and notice.episode.pending == 3
    assert notice.episode.since == checks.now
    checks.tell()
    # Telegram keeps failing, its message changing: still the same episode, told once.
    assert checks.check(pending=5, error_date=1060, error="Read timeout expired") is None
    assert checks.watch.problem() == FAILING
    assert checks.watch.episode is not None
    assert checks.watch.episode.detail == "Read timeout expired"


def test_errors_from_before_the_first_check_are_not_counted() -> None:
    """A restart: Telegram failed while no instance listened, and still has updates
    pending until it delivers them to this one."""
    checks = Checks()
    assert checks.check(pending=40, error_date=900) is None
    assert checks.watch.problem() is None
    assert checks.check(pending=0, error_date=900) is None
    assert checks.watch.problem() is None


def test_an_error_is_counted_only_while_updates_are_pending() -> None:
    """A single failed attempt redelivered at once (a timeout, an instance restarting)."""
    checks = Checks()
    checks.check()
    assert checks.check(pending=0, error_date=1000) is None
    assert checks.watch.problem() is None
    # The same error seen again later, with updates pending: not newer, not a failure.
    assert checks.check(pending=2, error_date=1000) is None
    assert checks.watch.problem() is None


def test_the_episode_ends_once_deliveries_go_through_with_one_notice() -> None:
    checks = Checks()
    checks.check()
    checks.check(pending=3, error_date=1000)
    alert = checks.tell()
    # No newer error, but nothing delivered either (Telegram waits longer between its
    # retries): still failing.
    for _ in range(5):
        assert checks.check(pending=3, error_date=1000) is None
        assert checks.watch.problem() == FAILING
    # Delivered: fewer pending (a busy bot rarely has none), then none.
    for _ in range(CLEAR_CHECKS - 1):
        assert checks.check(pending=1, error_date=1000) is None
        assert checks.watch.problem() == FAILING
    notice = checks.check(pending=0, error_date=1000)
    assert checks.watch.problem() is None
    assert notice is not None and notice.kind == "back" and notice.episode == alert.episode
    assert notice.ended_at == checks.now
    checks.tell()
    assert checks.check(pending=0, error_date=1000) is None
    # A later failure is a new episode, alerted again.
    notice = checks.check(pending=1, error_date=2000)
    assert notice is not None and notice.kind == "alert" and notice.episode.since == checks.now


def test_a_failing_check_in_between_starts_the_count_again() -> None:
    checks = Checks()
    checks.check()
    checks.check(pending=3, error_date=1000)
    checks.tell()
    for error_date in (1000, 1100, 1100):  # clear, failing again, clear
        checks.check(pending=1 if error_date == 1000 else 4, error_date=error_date)
    assert checks.watch.problem() == FAILING
    for _ in range(CLEAR_CHECKS):
        checks.check(pending=0, error_date=1100)
    assert checks.watch.problem() is None


def test_an_episode_never_alerted_ends_without_a_notice() -> None:
    """Another instance held the lease (it told the ops chat), or no ops chat is set."""
    checks = Checks()
    checks.check()
    assert checks.check(pending=3, error_date=1000) is not None  # due, never sent
    for _ in range(CLEAR_CHECKS):
        checks.check(pending=0, error_date=1000)
    assert checks.watch.problem() is None and checks.watch.due() is None


def test_an_alert_not_sent_stays_due() -> None:
    checks = Checks()
    checks.check()
    first = checks.check(pending=3, error_date=1000)
    again = checks.check(pending=3, error_date=1000)
    assert first is not None and again is not None and again.kind == "alert"


def test_a_webhook_registered_elsewhere_is_its_own_episode() -> None:
    checks = Checks()
    checks.check()
    elsewhere = "https://other.example.org/hook"
    notice = checks.check(url=elsewhere, pending=7, error_date=1000)
    assert checks.watch.problem() == REPLACED
    assert notice is not None and notice.kind == "alert" and notice.episode.detail == elsewhere
    checks.tell()
    assert checks.check(url=elsewhere, pending=9, error_date=1100) is None
    # Deleted now: another alert, in its own words.
    notice = checks.check(url="", pending=9, error_date=1100)
    assert notice is not None and notice.kind == "alert" and notice.episode.detail == ""
    checks.tell()
    # Ours again (a restarted instance registered it): over at once, with a notice;
    # the errors seen meanwhile were another URL's.
    notice = checks.check(pending=2, error_date=1100)
    assert checks.watch.problem() is None
    assert notice is not None and notice.kind == "back"


def test_the_url_as_telegram_normalised_it_is_still_ours() -> None:
    """Telegram may report the URL it was given in another spelling of the same
    address: the host in lower case, the default port dropped, an empty path as "/".
    Compared as plain strings, every instance reported webhook_replaced and alerted."""
    for ours, reported in (
        ("https://Bot.Example.ORG/tg/hook", "https://bot.example.org/tg/hook"),
        ("HTTPS://bot.example.org/tg/hook", "https://bot.example.org/tg/hook"),
        ("https://bot.example.org:443/tg/hook", "https://bot.example.org/tg/hook"),
        ("https://bot.example.org/tg/hook", "https://bot.example.org:443/tg/hook"),
        ("https://bot.example.org", "https://bot.example.org/"),
        ("https://bot.example.org:443/tg/hook?x=1", "https://BOT.example.org/tg/hook?x=1"),
    ):
        watch = WebhookWatch()
        watch.watch(ours)
        watch.observe(WebhookState(url=reported, pending=0), T0)
        assert watch.problem() is None and watch.due() is None, (ours, reported)


def test_another_path_port_or_query_is_another_webhook() -> None:
    """Only the spelling of the scheme, host and default port is forgiven: the path
    (the instances listen on exactly it), its case, a trailing slash, another port or
    another query is another webhook."""
    for reported in (
        "https://bot.example.org/tg/hook/",
        "https://bot.example.org/TG/hook",
        "https://bot.example.org:8443/tg/hook",
        "http://bot.example.org/tg/hook",
        "https://bot.example.org/tg/hook?x=1",
        "https://other.example.org/tg/hook",
    ):
        watch = WebhookWatch()
        watch.watch(URL)
        watch.observe(WebhookState(url=reported, pending=0), T0)
        assert watch.problem() == REPLACED, reported
        notice = watch.due()
        assert notice is not None and notice.episode.detail == reported  # as Telegram said


def test_a_change_of_reason_is_alerted_again() -> None:
    checks = Checks()
    checks.check()
    checks.check(pending=3, error_date=1000)
    failing = checks.tell()
    notice = checks.check(url="", pending=3, error_date=1000)
    assert notice is not None and notice.kind == "alert" and notice.episode.reason == REPLACED
    assert notice.episode.since == failing.episode.since  # one stretch of trouble
    checks.tell()
    # Back to ours, and still failing: alerted as failing again.
    notice = checks.check(pending=4, error_date=1200)
    assert notice is not None and notice.kind == "alert" and notice.episode.reason == FAILING


def test_an_instance_in_polling_mode_watches_nothing() -> None:
    watch = WebhookWatch()
    assert watch.problem() is None and watch.due() is None
