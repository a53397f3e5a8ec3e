"""The scheduler: one leader fires each job once, through restarts, outages and rivals."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.scheduler import LEASE_SECONDS, Scheduler, digest_due_at
from bot.settings import Settings
from commands.context import Context
from commands.errors import Refused
from storage import schedules as schedule_store
from storage.models import Update, UpdateKind
from tests.factories import FakeClock, make_incident, run

# Mondays at 09:00 in Rome: 08:00 UTC in winter. That Monday's digest covers 2025-W05,
# whose firing is keyed by the week's first moment, Monday 27 January 00:00 in Rome.
MONDAY_9 = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)
WEEK_05 = datetime(2025, 1, 26, 23, 0, tzinfo=UTC)


@dataclass
class Posts:
    """A stand-in for post_digest that records what it was asked to post, or fails."""

    sent: list[tuple[str | None, str | None, str, bytes]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def __call__(
        self, settings: Settings, title: str, text: str, png: bytes, filename: str
    ) -> list[str]:
        if self.failures:
            raise Refused(self.failures.pop(0))
        self.sent.append((settings.digest_slack_channel, settings.digest_telegram_chat, title, png))
        return [f"posted {filename}"]

    def to(self, destination: str) -> int:
        return sum(1 for slack, telegram, _, _ in self.sent if destination in (slack, telegram))


def settings(**values: object) -> Settings:
    base: dict[str, object] = {
        "digest_slack_channel": "C0MANAGERS",
        "digest_telegram_chat": "-1009",
        "quiet_minutes": {2: 30},
    }
    return Settings(_env_file=None, **(base | values))  # type: ignore[arg-type]


def scheduler(ctx: Context, posts: Posts, holder: str, **values: object) -> Scheduler:
    return Scheduler(settings(**values), ctx, holder=holder, post_digest=posts)


def tick(*schedulers: Scheduler) -> None:
    async def all_at_once() -> None:
        await asyncio.gather(*(s.tick() for s in schedulers))
        await asyncio.gather(*(s.settle() for s in schedulers))

    asyncio.run(all_at_once())


def kinds(sessions: sessionmaker[Session]) -> list[UpdateKind]:
    with sessions() as session:
        return [
            UpdateKind(k) for k in session.exec(select(Update.kind).order_by(col(Update.id))).all()
        ]


def test_the_digest_is_due_at_the_cron_moment_in_the_configured_zone() -> None:
    plain = settings()
    assert digest_due_at("0 9 * * 1", MONDAY_9, plain) == MONDAY_9
    assert digest_due_at("0 9 * * 1", MONDAY_9 - timedelta(seconds=1), plain) == MONDAY_9 - (
        timedelta(days=7)
    )
    # After the spring change 09:00 in Rome is 07:00 UTC.
    summer = datetime(2025, 4, 7, 7, 0, tzinfo=UTC)
    assert digest_due_at("0 9 * * 1", summer + timedelta(hours=3), plain) == summer


def test_the_digest_fires_once_at_its_minute_to_each_destination(
    ctx: Context, clock: FakeClock
) -> None:
    posts = Posts()
    one = scheduler(ctx, posts, "one")
    clock.current = MONDAY_9 - timedelta(seconds=2)
    tick(one)
    first = len(posts.sent)  # the previous Monday's is a week old: skipped
    clock.advance(seconds=1)
    tick(one)
    assert len(posts.sent) == first
    clock.advance(seconds=1)
    tick(one)
    assert len(posts.sent) == first + 2
    for _ in range(5):
        clock.advance(minutes=1)
        tick(one)
    assert len(posts.sent) == first + 2
    slack_only, telegram_only = posts.sent[-2:]
    assert (slack_only[0], slack_only[1]) == ("C0MANAGERS", None)
    assert (telegram_only[0], telegram_only[1]) == (None, "-1009")
    title, png = slack_only[2], slack_only[3]
    assert "2025-W05" in title  # the week before the Monday it is posted on
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_digest_missed_while_down_is_caught_up_once_after_a_restart(
    ctx: Context, clock: FakeClock
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(hours=1)
    before = scheduler(ctx, posts, "before")
    tick(before)
    already = len(posts.sent)
    before.release()  # Herald stops at 08:00 and comes back at 15:00
    clock.current = MONDAY_9 + timedelta(hours=7)
    after = scheduler(ctx, posts, "after")
    tick(after)
    tick(after)
    assert len(posts.sent) == already + 2
    again = scheduler(ctx, posts, "again")  # and once more after another restart
    after.release()
    tick(again)
    assert len(posts.sent) == already + 2


def test_a_digest_missed_by_more_than_a_day_is_skipped_with_a_log_line(
    ctx: Context, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(hours=1)
    tick(scheduler(ctx, posts, "before"))  # Herald ran the week before, then stopped
    clock.current = MONDAY_9 + timedelta(days=1, minutes=1)
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        tick(scheduler(ctx, posts, "late"))
    assert posts.sent == []
    skipped = [
        r.getMessage() for r in caplog.records if "missed by more than a day" in r.getMessage()
    ]
    assert len(skipped) == 2  # one line per destination
    with ctx.sessions() as session:
        runs = schedule_store.list_runs(session=session, job="digest:slack")
    assert [(r.due_at, r.outcome) for r in runs][-1] == (WEEK_05, "skipped: missed")
    assert "the next one is due at 2025-02-10T09:00+01:00" in skipped[0]


def test_a_first_start_long_after_the_last_firing_says_when_the_first_digest_comes(
    ctx: Context, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 + timedelta(days=2)
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        tick(scheduler(ctx, posts, "new"))
    assert posts.sent == []
    said = [r for r in caplog.records if "digest" in r.getMessage()]
    assert [r.levelname for r in said] == ["INFO", "INFO"]
    assert "the first digest is due at 2025-02-10T09:00+01:00" in said[0].getMessage()


def test_a_failed_post_is_retried_later_without_posting_the_other_destination_twice(
    ctx: Context, clock: FakeClock
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(days=1, hours=1)
    one = scheduler(ctx, posts, "one")
    tick(one)  # the previous week's is long past: skipped
    clock.current = MONDAY_9
    posts.failures = ["digest not posted to Slack C0MANAGERS: Slack is down"]
    tick(one)
    assert posts.to("-1009") == 1
    assert posts.to("C0MANAGERS") == 0
    clock.advance(seconds=59)
    tick(one)
    assert posts.to("C0MANAGERS") == 0  # the first retry waits a minute
    clock.advance(seconds=1)
    tick(one)
    assert posts.to("C0MANAGERS") == 1
    assert posts.to("-1009") == 1
    with ctx.sessions() as session:
        [run_] = [
            r
            for r in schedule_store.list_runs(session=session, job="digest:slack")
            if r.due_at == WEEK_05
        ]
    assert run_.attempts == 2
    assert run_.finished_at == MONDAY_9 + timedelta(minutes=1)


def test_a_digest_that_keeps_failing_is_given_up_after_a_day(
    ctx: Context, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(hours=1)
    one = scheduler(ctx, posts, "one", digest_telegram_chat=None)
    tick(one)  # Herald ran before the digest was due
    clock.current = MONDAY_9
    posts.failures = ["Slack is down"] * 100
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        while clock.current < MONDAY_9 + timedelta(days=1, hours=2):
            tick(one)
            clock.advance(minutes=10)
    attempts = 100 - len(posts.failures)
    assert 5 <= attempts <= 40  # backoff, capped at an hour: not one attempt a tick
    assert any("gave up" in r.getMessage() for r in caplog.records)
    assert posts.sent == []


def test_only_the_lease_holder_fires_and_a_standby_takes_over(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(days=2)
    one, two = scheduler(ctx, posts, "one"), scheduler(ctx, posts, "two")
    tick(one, two)
    incident_id = make_incident(ctx, sev=2)
    clock.advance(minutes=31)
    tick(one, two)
    tick(two, one)
    assert kinds(sessions).count(UpdateKind.NUDGE) == 1
    # "one" renews its lease just before the next nudge is due, then dies without
    # releasing it: "two" waits the lease out, then fires.
    run(ctx, f"update {incident_id} Ancora in corso")
    clock.advance(minutes=29, seconds=50)
    tick(one)
    clock.advance(seconds=15)
    tick(two)
    assert kinds(sessions).count(UpdateKind.NUDGE) == 1
    clock.advance(seconds=LEASE_SECONDS)
    tick(two)
    assert kinds(sessions).count(UpdateKind.NUDGE) == 2


def test_two_schedulers_fire_each_job_once(
    engine: sa.Engine, ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(hours=3)
    run(
        ctx,
        'maintenance schedule Lavori --start "03/02/2025 10:00" --end "03/02/2025 11:00" '
        "--remind 1h",
    )
    make_incident(ctx, sev=2)
    schedulers = [scheduler(ctx, posts, f"s{n}") for n in range(3)]
    tick(*schedulers)
    sent_before = len(posts.sent)
    for _ in range(6 * 60):  # six hours, a tick a minute, the lease changing hands
        clock.advance(minutes=1)
        if clock.current.minute % 20 == 0:
            schedulers.append(schedulers.pop(0))
            schedulers[-1].release()
        tick(*schedulers)
    assert kinds(sessions).count(UpdateKind.MAINTENANCE_REMINDER) == 1
    assert kinds(sessions).count(UpdateKind.MAINTENANCE_STARTED) == 1
    assert kinds(sessions).count(UpdateKind.MAINTENANCE_COMPLETED) == 1
    assert kinds(sessions).count(UpdateKind.NUDGE) == 1
    assert len(posts.sent) == sent_before + 2


def test_a_nudge_wakes_the_delivery_worker(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    woken: list[bool] = []
    from tests.factories import make_context

    ctx = make_context(sessions, clock)
    ctx = Context(
        ctx.sessions, ctx.zone, ctx.locale, ctx.actor, ctx.now, changed=lambda: woken.append(True)
    )
    make_incident(ctx, sev=2)
    woken.clear()  # opening it woke the worker
    quiet = scheduler(ctx, Posts(), "one", digest_slack_channel=None, digest_telegram_chat=None)
    tick(quiet)
    assert woken == []
    clock.advance(minutes=30)
    tick(quiet)
    assert woken == [True]


def test_a_changed_cron_does_not_post_the_same_week_again(ctx: Context, clock: FakeClock) -> None:
    posts = Posts()
    clock.current = MONDAY_9 - timedelta(hours=1)
    tick(scheduler(ctx, posts, "one"))
    clock.current = MONDAY_9
    tick(scheduler(ctx, posts, "one"))
    assert len(posts.sent) == 2
    clock.current = MONDAY_9 + timedelta(hours=2)  # restarted with 10:00 instead of 09:00
    tick(scheduler(ctx, posts, "two", digest_cron="0 10 * * 1"))
    assert len(posts.sent) == 2


def test_a_first_start_soon_after_the_digest_moment_posts_nothing(
    ctx: Context, clock: FakeClock
) -> None:
    posts = Posts()
    clock.current = MONDAY_9 + timedelta(hours=1)
    tick(scheduler(ctx, posts, "new"))
    assert posts.sent == []


def test_a_refused_post_is_not_tried_again(
    ctx: Context, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.digest.post import DigestNotPosted

    async def refused(
        settings: Settings, title: str, text: str, png: bytes, name: str
    ) -> list[str]:
        raise DigestNotPosted("digest not posted to Slack C0MANAGERS: missing_scope", retry=False)

    clock.current = MONDAY_9 - timedelta(hours=1)
    one = Scheduler(settings(digest_telegram_chat=None), ctx, holder="one", post_digest=refused)
    tick(one)
    clock.current = MONDAY_9
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        for _ in range(10):
            tick(one)
            clock.advance(minutes=30)
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "digest:slack not posted, and not tried again: "
        "digest not posted to Slack C0MANAGERS: missing_scope"
    ]


def test_a_slow_digest_holds_up_no_other_job(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    clock.current = MONDAY_9 - timedelta(hours=1)
    posted = Posts()

    async def scenario() -> None:
        release = asyncio.Event()

        async def slow(
            settings: Settings, title: str, text: str, png: bytes, name: str
        ) -> list[str]:
            await release.wait()
            return await posted(settings, title, text, png, name)

        one = Scheduler(settings(digest_telegram_chat=None), ctx, holder="one", post_digest=slow)
        await one.tick()
        await one.settle()
        clock.current = MONDAY_9
        make_incident(ctx, sev=2)
        await one.tick()  # the digest starts, and waits on Slack
        clock.advance(minutes=30)
        await one.tick()
        assert kinds(sessions).count(UpdateKind.NUDGE) == 1
        assert posted.sent == []
        release.set()
        await one.settle()
        assert len(posted.sent) == 1

    asyncio.run(scenario())


def test_a_database_that_does_not_answer_is_said_once_then_once_back(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.scheduler import run_scheduler

    class Flaky(Scheduler):
        ticks = 0

        async def tick(self) -> None:
            self.ticks += 1
            if 2 <= self.ticks <= 6:
                raise OperationalError("SELECT 1", {}, Exception("connection refused"))
            if self.ticks == 9:
                stop.set()

    stop = asyncio.Event()
    flaky = Flaky(settings(), ctx, holder="flaky")
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        asyncio.run(run_scheduler(flaky, stop, poll_seconds=0.001))
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said[1:3] == [
        (
            "WARNING",
            "scheduler: the database does not answer (OperationalError); trying every 0.0 s",
        ),
        ("INFO", "scheduler: the database answers again"),
    ]
    assert not any(r.exc_info for r in caplog.records)


def test_a_post_recorded_late_is_not_posted_again(
    ctx: Context, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    posts = Posts()
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    one = Scheduler(
        settings(digest_telegram_chat=None), ctx, holder="one", post_digest=posts, pause=pause
    )
    clock.current = MONDAY_9 - timedelta(hours=1)
    tick(one)
    clock.current = MONDAY_9
    finish = one._finish
    blips = [OperationalError("UPDATE", {}, Exception("server closed the connection"))] * 2

    def flaky_finish(job: str, due: datetime, outcome: str) -> None:
        if blips:
            raise blips.pop()
        finish(job, due, outcome)

    monkeypatch.setattr(one, "_finish", flaky_finish)
    tick(one)
    assert pauses == [1.0, 2.0]
    for _ in range(3):
        clock.advance(minutes=6)
        tick(one)
    assert posts.to("C0MANAGERS") == 1


def test_a_stop_cuts_a_hanging_digest_short(ctx: Context, clock: FakeClock) -> None:
    from bot.scheduler import run_scheduler

    async def hangs(settings: Settings, title: str, text: str, png: bytes, name: str) -> list[str]:
        await asyncio.Event().wait()
        return []

    clock.current = MONDAY_9 - timedelta(hours=1)
    one = Scheduler(settings(digest_telegram_chat=None), ctx, holder="one", post_digest=hangs)
    tick(one)
    clock.current = MONDAY_9

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(run_scheduler(one, stop, poll_seconds=0.01, stop_grace=0.05))
        while one._digest_task is None or one._digest_task.done():
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(running, timeout=5)

    asyncio.run(scenario())
    assert one._digest_task is not None
    assert one._digest_task.cancelled()
