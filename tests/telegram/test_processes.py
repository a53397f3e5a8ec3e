"""Telegram's processes as an operator runs them, against the fake Bot API: one `herald telegram`
polls under a database lease while another waits and takes over, a restart resumes without
replaying, two `herald web` share the webhook, and `herald telegram` refuses what it cannot do."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.engine import make_engine
from storage.models import HandledRequest, Incident, IncidentStatus, Lease
from tests.bot.test_serve import clean_env, free_port, run_herald, wait_for_health
from tests.fakes.telegram import FakeTelegram, Message
from tests.telegram.helpers import ALICE, OPS, SECRET, TOKEN, new_fake, wait_until

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

PUBLIC_URL = "https://status.example.it"
POLLING = "Telegram polling: this process reads the updates"
STANDBY = "Telegram polling: standby, another process is polling"
WEBHOOK_MODE = "Telegram: commands to @herald_test_bot read in webhook mode"
# A process starting (imports, getMe, the command menu) on a loaded machine.
START_S = 30.0
# The lease lasts 10 s and a standby looks every second: a dead poller is replaced after
# about 11 s. 20 s leaves room for a loaded machine and still fails a lease that never lapses.
AFTER_A_KILL_S = 20.0
# A poller that stops cleanly gives the lease up: the standby's next look (1 s) takes it.
# 5 s is far below the 10 s a lease that was not released would take.
AFTER_A_STOP_S = 5.0


# ---- processes


@dataclass
class Herald:
    """One `herald` process a test started, everything it writes in its log file."""

    name: str
    popen: subprocess.Popen[str]
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id, which the holder of a lease names."""
        return self.popen.pid

    def log(self) -> str:
        """What the process has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def said(self, text: str) -> bool:
        """Whether the log has `text` in it."""
        return text in self.log()

    def terminate(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code once it has stopped."""
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=30)


class Heralds:
    """Starts `herald` processes in one directory; kills whichever still runs at the end."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.started: list[Herald] = []
        self._logs: list[IO[str]] = []

    def start(self, name: str, env: dict[str, str], *args: str) -> Herald:
        """Run `herald ARGS…` in the background, as an operator's service manager would."""
        path = self.cwd / f"{name}.log"
        out = path.open("w", encoding="utf-8")
        self._logs.append(out)
        popen = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=self.cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        herald = Herald(name, popen, path)
        self.started.append(herald)
        return herald

    def logs(self) -> str:
        """Every process's log, to show with a failed assertion."""
        return "\n".join(f"--- {h.name} (pid {h.pid})\n{h.log()}" for h in self.started)

    def kill_all(self) -> None:
        """SIGKILL whatever still runs and reap it."""
        for herald in self.started:
            if herald.popen.poll() is None:
                herald.popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                herald.popen.wait(timeout=10)
        for out in self._logs:
            out.close()


def herald_once(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `herald ARGS…` to its end, with a deadline in case it does not stop."""
    return run_herald(cwd, env, *args, timeout=60)


# ---- the database, as the test reads it


@dataclass
class Store:
    """The database the processes share, migrated by `herald db upgrade`."""

    url: str
    engine: sa.Engine

    def incidents(self) -> list[Incident]:
        """Every incident saved, oldest first."""
        with Session(self.engine) as session:
            return list(session.exec(select(Incident).order_by(col(Incident.id))).all())

    def lease_holders(self) -> list[int]:
        """The process ids holding an unexpired lease (a holder is host:pid:nonce)."""
        with Session(self.engine) as session:
            leases = session.exec(select(Lease)).all()
        now = time.time()
        return [
            int(lease.holder.rsplit(":", 2)[1])
            for lease in leases
            if lease.expires_at.timestamp() > now
        ]

    def claimed(self, update_id: int) -> bool:
        """Whether some process claimed this Telegram update."""
        with Session(self.engine) as session:
            found = session.exec(
                select(HandledRequest)
                .where(HandledRequest.source == "telegram")
                .where(HandledRequest.key == str(update_id))
            ).first()
        return found is not None


@contextlib.contextmanager
def migrated(cwd: Path, url: str) -> Iterator[Store]:
    """`herald db upgrade` on `url`, and an engine for the test to read it with."""
    upgraded = herald_once(cwd, clean_env(DATABASE_URL=url), "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    engine = make_engine(url)
    try:
        yield Store(url, engine)
    finally:
        engine.dispose()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Store]:
    """A throwaway PostgreSQL database of its own, dropped at the end."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    name = f"herald_tgproc_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        sa.make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
        with migrated(tmp_path, url) as store:
            yield store
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Store]:
    """A SQLite file in the test's directory."""
    with migrated(tmp_path, f"sqlite:///{tmp_path / 'herald.db'}") as store:
        yield store


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API on a local port the processes reach."""
    with new_fake() as telegram:
        yield telegram


@pytest.fixture
def heralds(tmp_path: Path) -> Iterator[Heralds]:
    """The processes a test starts, every one killed at its end, passed or failed."""
    started = Heralds(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


def herald_env(store: Store, fake: FakeTelegram, **extra: str) -> dict[str, str]:
    """The environment of a Herald with Telegram on, pointed at the fake."""
    return clean_env(
        DATABASE_URL=store.url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_OPS_CHATS=str(OPS),
        TELEGRAM_RESPONDERS=str(ALICE),
        LOG_LEVEL="INFO",
        **extra,
    )


# ---- what people do, and what Telegram saw


def say(fake: FakeTelegram, text: str) -> dict[str, Any]:
    """The responder writes in the ops group; returns the update Telegram made of it."""
    return fake.add_user_message(OPS, text, user_id=ALICE)


def asked(update: dict[str, Any]) -> int:
    """The id of the message an update carries."""
    return int(update["message"]["message_id"])


def reply_to(fake: FakeTelegram, message_id: int, heralds: Heralds, timeout: float = 10) -> Message:
    """The bot's first reply to a message in the ops group, once it has come."""
    came = wait_until(lambda: bool(fake.replies_to(OPS, message_id)), timeout)
    assert came, f"no reply to {message_id}\n{heralds.logs()}"
    return fake.replies_to(OPS, message_id)[0]


def button(message: Message, label: str) -> str:
    """The callback data of the button whose label starts with `label`."""
    for row in message.inline_keyboard:
        for key in row:
            if str(key["text"]).startswith(label):
                return str(key["callback_data"])
    raise AssertionError(f"no button {label!r} under {message.text!r}")


def post_update(
    port: int, update: dict[str, Any], *, secret: str | None = SECRET
) -> httpx.Response:
    """POST an update to a web process's /telegram/webhook, as Telegram does."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return httpx.post(
        f"http://127.0.0.1:{port}/telegram/webhook",
        content=json.dumps(update),
        headers=headers,
        timeout=10,
    )


# ---- polling


@pytest.mark.postgres
def test_a_standby_takes_over_when_the_poller_dies_and_when_it_stops(
    postgres: Store, fake: FakeTelegram, heralds: Heralds
) -> None:
    env = herald_env(postgres, fake)
    both = [heralds.start(name, env, "telegram") for name in ("first", "second")]

    def one_polls_one_waits() -> bool:
        return [h.said(POLLING) for h in both].count(True) == 1 and any(
            h.said(STANDBY) for h in both
        )

    assert wait_until(one_polls_one_waits, START_S), heralds.logs()
    poller, standby = both if both[0].said(POLLING) else reversed(both)
    assert standby.said(STANDBY)
    assert not poller.said(STANDBY)
    assert postgres.lease_holders() == [poller.pid]

    opened = say(fake, "/incident open Posta lenta --sev 2")
    assert reply_to(fake, asked(opened), heralds).text.startswith("Opened INC-1")

    poller.popen.kill()
    poller.popen.wait(timeout=10)
    killed_at = time.monotonic()
    after_kill = say(fake, "/incident open Posta ferma --sev 1")
    reply = reply_to(fake, asked(after_kill), heralds, timeout=3 * AFTER_A_KILL_S)
    took_over_in = time.monotonic() - killed_at
    log.info("standby answered %.1f s after the poller was killed", took_over_in)
    assert took_over_in < AFTER_A_KILL_S, heralds.logs()
    assert reply.text.startswith("Opened INC-2")
    assert standby.said(POLLING)
    assert postgres.lease_holders() == [standby.pid]

    third = heralds.start("third", env, "telegram")
    assert wait_until(lambda: third.said(STANDBY), START_S), heralds.logs()
    stopped_at = time.monotonic()
    # Stopped before the command is sent, so the answer can only come from the third.
    assert standby.terminate() == 0, heralds.logs()
    assert "herald telegram stopped" in standby.log()
    after_stop = say(fake, "/incident open Posta a singhiozzo --sev 3")
    reply = reply_to(fake, asked(after_stop), heralds, timeout=3 * AFTER_A_STOP_S)
    handed_over_in = time.monotonic() - stopped_at
    log.info("standby answered %.1f s after the poller was stopped", handed_over_in)
    assert handed_over_in < AFTER_A_STOP_S, heralds.logs()
    assert reply.text.startswith("Opened INC-3")
    assert third.said(POLLING)
    assert postgres.lease_holders() == [third.pid]

    # Nothing was answered or opened twice, by whichever process.
    for update in (opened, after_kill, after_stop):
        assert len(fake.replies_to(OPS, asked(update))) == 1, heralds.logs()
    titles = [i.title for i in postgres.incidents()]
    assert titles == ["Posta lenta", "Posta ferma", "Posta a singhiozzo"]
    assert third.terminate() == 0
    assert postgres.lease_holders() == []
    assert "Traceback" not in heralds.logs()


def test_a_restarted_poller_resumes_after_the_last_update_without_replaying(
    sqlite: Store, fake: FakeTelegram, heralds: Heralds
) -> None:
    env = herald_env(sqlite, fake)
    before = heralds.start("before", env, "telegram")
    assert wait_until(lambda: before.said(POLLING), START_S), heralds.logs()
    opened = say(fake, "/incident open Posta lenta --sev 2")
    assert reply_to(fake, asked(opened), heralds).text.startswith("Opened INC-1")
    assert before.terminate() == 0, heralds.logs()

    after = heralds.start("after", env, "telegram")
    assert wait_until(lambda: after.said(POLLING), START_S), heralds.logs()
    assert f"{POLLING} (after update {opened['update_id']})" in after.log()

    shown = say(fake, "/incident show INC-1")
    assert "Posta lenta" in reply_to(fake, asked(shown), heralds).text
    # Only the very first poll, with nothing handled yet, asked from the start of the queue:
    # the restarted process asked for what follows the update it had handled.
    offsets = [call.params.get("offset") for call in fake.calls("getUpdates")]
    assert offsets.count(None) == 1, offsets
    assert len(fake.replies_to(OPS, asked(opened))) == 1
    assert [i.title for i in sqlite.incidents()] == ["Posta lenta"]
    assert after.terminate() == 0
    assert "Traceback" not in heralds.logs()


# ---- the webhook


@pytest.mark.postgres
def test_two_web_processes_share_the_webhook_and_run_each_update_once(
    postgres: Store, fake: FakeTelegram, heralds: Heralds
) -> None:
    ports = free_port(), free_port()
    a, b = (
        heralds.start(
            name,
            herald_env(
                postgres,
                fake,
                PORT=str(port),
                HOST="127.0.0.1",
                PUBLIC_URL=PUBLIC_URL,
                TELEGRAM_WEBHOOK_SECRET=SECRET,
            ),
            "web",
        )
        for name, port in zip(("web-a", "web-b"), ports, strict=True)
    )
    a_port, b_port = ports
    for web, port in ((a, a_port), (b, b_port)):
        wait_for_health(f"http://127.0.0.1:{port}/healthz", web.popen, deadline_s=START_S)
    assert wait_until(lambda: a.said(WEBHOOK_MODE) and b.said(WEBHOOK_MODE), START_S), (
        heralds.logs()
    )
    set_webhook = fake.calls("setWebhook")
    assert len(set_webhook) == 2
    for call in set_webhook:
        assert call.params["url"] == f"{PUBLIC_URL}/telegram/webhook"
        assert call.params["secret_token"] == SECRET
    assert (fake.webhook_url, fake.webhook_secret) == (f"{PUBLIC_URL}/telegram/webhook", SECRET)

    opened = say(fake, "/incident open Posta giù --sev 2")
    assert post_update(a_port, opened).status_code == 200
    reply = reply_to(fake, asked(opened), heralds)
    assert reply.text.startswith("Opened INC-1")

    # Telegram's retry of the same update reaches the other process.
    assert post_update(b_port, opened).status_code == 200
    skipped = f"Telegram update {opened['update_id']} already handled: skipped"
    assert wait_until(lambda: b.said(skipped)), heralds.logs()

    intruder = say(fake, "/incident open Intruso")
    for port in (a_port, b_port):
        for secret in ("not-the-secret", None):
            refused = post_update(port, intruder, secret=secret)
            assert refused.status_code == 403, refused.text

    resolve = fake.add_callback_query(
        OPS, reply.message_id, button(reply, "Resolve"), user_id=ALICE
    )
    assert post_update(b_port, resolve).status_code == 200
    confirmation = reply_to(fake, reply.message_id, heralds)
    confirm = fake.add_callback_query(
        OPS, confirmation.message_id, button(confirmation, "Yes, resolve"), user_id=ALICE
    )
    assert post_update(a_port, confirm).status_code == 200

    def resolved() -> bool:
        return [i.status for i in postgres.incidents()] == [IncidentStatus.RESOLVED]

    assert wait_until(resolved, 10), heralds.logs()
    query = confirm["callback_query"]["id"]
    assert wait_until(lambda: any(x.query_id == query for x in fake.answers())), heralds.logs()
    assert [x.text for x in fake.answers() if x.query_id == query] == ["INC-1 resolved."]

    assert [i.title for i in postgres.incidents()] == ["Posta giù"]
    assert len(fake.replies_to(OPS, asked(opened))) == 1
    # Checked last, so a claim made late in the background would have shown by now.
    assert not postgres.claimed(intruder["update_id"])
    assert fake.replies_to(OPS, asked(intruder)) == []
    assert a.terminate() == 0
    assert b.terminate() == 0
    assert "Traceback" not in heralds.logs()


# ---- what `herald telegram` refuses


def test_herald_telegram_refuses_to_poll_when_the_webhook_is_configured(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    env = clean_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.api_url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        PUBLIC_URL=PUBLIC_URL,
    )
    refused = herald_once(tmp_path, env, "telegram")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("herald: TELEGRAM_WEBHOOK_SECRET is set")
    assert "run herald web" in line
    # Nothing asked of Telegram: a deleteWebhook would take the web processes' webhook away.
    assert fake.requests == []
    assert not (tmp_path / "herald.db").exists()


def test_herald_telegram_refuses_to_start_without_a_token(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    refused = herald_once(tmp_path, clean_env(TELEGRAM_API_URL=fake.api_url), "telegram")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("herald: ")
    assert "TELEGRAM_BOT_TOKEN" in line
    assert fake.requests == []
    assert not (tmp_path / "herald.db").exists()
