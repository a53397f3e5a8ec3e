"""Two `herald worker` processes on one PostgreSQL database fire each scheduled job once:
a maintenance window a few seconds ahead starts and completes once, and the weekly digest
(its cron every minute here) is posted once with its chart, whichever process leads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from storage.models import Lease, ScheduledRun, Update, UpdateKind
from tests.bot.test_serve import clean_env
from tests.fakes.telegram import FakeTelegram
from tests.telegram.helpers import TOKEN, wait_until
from tests.telegram.test_processes import Heralds, Store, herald_once, postgres  # noqa: F401

pytestmark = pytest.mark.slow

MANAGERS = -1005550001
START_S = 30.0


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """Fake Telegram with the managers' group; no message limits."""
    with FakeTelegram(
        token=TOKEN, global_per_second=None, per_chat_per_second=None, group_per_minute=None
    ) as fake:
        fake.add_chat(MANAGERS, "supergroup", "Managers")
        yield fake


def kinds(store: Store) -> list[UpdateKind]:
    with Session(store.engine) as session:
        return [
            UpdateKind(k) for k in session.exec(select(Update.kind).order_by(col(Update.id))).all()
        ]


def test_two_workers_fire_each_job_once(
    tmp_path: Path,
    postgres: Store,  # noqa: F811
    telegram: FakeTelegram,
) -> None:
    env = clean_env(
        DATABASE_URL=postgres.url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram.api_url,
        DIGEST_TELEGRAM_CHAT=str(MANAGERS),
        DIGEST_CRON="* * * * *",
        WORKER_POLL_SECONDS="0.2",
        TIMEZONE="UTC",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now + timedelta(seconds=8), now + timedelta(seconds=12)
    scheduled = herald_once(
        tmp_path,
        env,
        "maintenance",
        "schedule",
        "Aggiornamento server di posta",
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--remind",
        "0",
    )
    assert scheduled.returncode == 0, scheduled.stderr
    with Session(postgres.engine) as session:  # Herald posted a digest weeks ago
        weeks_ago = now - timedelta(weeks=3)
        session.add(
            ScheduledRun(
                job="digest:telegram",
                due_at=weeks_ago,
                claimed_at=weeks_ago,
                finished_at=weeks_ago,
                outcome="posted",
            )
        )
        session.commit()
    heralds = Heralds(tmp_path)
    try:
        one = heralds.start("one", env, "worker")
        two = heralds.start("two", env, "worker")
        assert wait_until(
            lambda: (
                one.said("scheduler: this process fires")
                or two.said("scheduler: this process fires")
            ),
            timeout=START_S,
        ), heralds.logs()
        assert wait_until(lambda: kinds(postgres).count(UpdateKind.MAINTENANCE_COMPLETED) == 1, 40)
        # Last week's digest (due a minute ago, by this cron) is caught up at start, once;
        # the next minutes name the same week, so nothing more is posted.
        assert wait_until(lambda: len(telegram.photos(MANAGERS)) >= 1, timeout=START_S)
        time.sleep(1.0)  # both processes tick a few more times
        assert kinds(postgres) == [
            UpdateKind.MAINTENANCE_SCHEDULED,
            UpdateKind.MAINTENANCE_STARTED,
            UpdateKind.MAINTENANCE_COMPLETED,
        ], heralds.logs()
        with Session(postgres.engine) as session:
            runs = session.exec(select(ScheduledRun)).all()
            [lease] = session.exec(select(Lease).where(Lease.name == "scheduler")).all()
        assert len(telegram.photos(MANAGERS)) == 1, heralds.logs()
        assert len(runs) == 2  # the old one, and last week's
        leader = one if str(one.pid) in lease.holder else two
        standby = two if leader is one else one
        assert standby.said("another process fires the scheduled jobs"), heralds.logs()
        assert leader.terminate() == 0
        # The standby takes over at once after a clean stop (the lease was released).
        assert wait_until(lambda: standby.said("scheduler: this process fires"), 10), heralds.logs()
    finally:
        heralds.kill_all()
