"""Issue 10, first "done when": a maintenance scheduled at the CLI is reminded, started and
completed on its own, on every channel and on the status page.

The real scheduler ticks on the fake clock, the real delivery worker sends through the
real SDK clients to the fake Telegram and Slack and a webhook receiver, and the status
page is read through the web app; nobody types anything after `maintenance schedule`.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.database import Database
from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.setup import build_worker, close_senders
from bot.delivery.worker import DeliveryWorker
from bot.scheduler import Scheduler
from bot.settings import Settings
from commands.context import SCHEDULER, Actor, Context
from commands.dispatch import execute
from commands.parser import Clock, parse_argv
from storage.engine import make_session_factory
from storage.models import DeliveryState, Update, UpdateKind
from tests.delivery.helpers import states
from tests.factories import FakeClock
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.webhook import Receiver
from tests.status.helpers import PUBLIC_URL, status_client
from tests.status.test_feeds import events, parse_feed

TELEGRAM_TOKEN = "123456:TEST-TOKEN"
SLACK_TOKEN = "xoxb-test-token"
ITALIAN = -1001000000001  # a Telegram customer channel in Italian, following posta
WEB_ONLY = -1001000000002  # a Telegram channel following only web: hears nothing of posta
ENGLISH = "C0CUSTOMERS"  # a Slack customer channel in English, following posta

# The fake clock starts on 28/01/2025 at 14:50 in Rome (13:50 UTC); the window is that
# evening from 22:00 to 23:30 in Rome, the reminder two hours before it.
REMINDER_AT = datetime(2025, 1, 28, 19, 0, tzinfo=UTC)
START = datetime(2025, 1, 28, 21, 0, tzinfo=UTC)
END = datetime(2025, 1, 28, 22, 30, tzinfo=UTC)
SCHEDULE = (
    "maintenance schedule Aggiornamento server di posta "
    '--start "28/01/2025 22:00" --end "28/01/2025 23:30" --components posta --remind 2h'
)
KINDS = [
    UpdateKind.MAINTENANCE_SCHEDULED,
    UpdateKind.MAINTENANCE_REMINDER,
    UpdateKind.MAINTENANCE_STARTED,
    UpdateKind.MAINTENANCE_COMPLETED,
]


@dataclass
class World:
    """Herald on one database: the CLI, the scheduler, the delivery worker and the web app."""

    settings: Settings
    database: Database
    clock: FakeClock
    telegram: FakeTelegram
    slack: FakeSlack
    receiver: Receiver
    status: TestClient
    loop: asyncio.Runner
    worker: DeliveryWorker
    scheduler: Scheduler
    seen: dict[str, list[str]] = field(default_factory=dict)

    def herald(self, line: str) -> str:
        """`herald LINE` as the CLI runs it: the shell's words parsed, the reply's text."""
        ctx = Context(
            sessions=self.database.sessions,
            zone=self.settings.zone,
            locale=self.settings.locale,
            actor=Actor("ops", "cli"),
            now=self.clock,
            remind_before=self.settings.maintenance_reminder,
        )
        command = parse_argv(shlex.split(line), clock=Clock(self.settings.zone, self.clock()))
        return execute(command, ctx).text

    def at(self, moment: datetime) -> None:
        """The clock reaches `moment`: one scheduler tick, then the worker sends what is due."""
        self.clock.current = moment
        self.loop.run(self.scheduler.tick())
        self.deliver()

    def deliver(self) -> None:
        """Send everything due now, and check nothing is left waiting."""
        self.loop.run(self.worker.drain())
        left = {k: s for k, s in states(self.database.sessions).items() if s != DeliveryState.SENT}
        assert left == {}, left

    def kinds(self) -> list[UpdateKind]:
        """Every update's kind, in the order they were written."""
        with self.database.sessions() as session:
            found = session.exec(select(Update.kind).order_by(col(Update.id))).all()
        return [UpdateKind(k) for k in found]

    # ---- what the channels saw

    def arrived(self) -> dict[str, list[str]]:
        """The messages (and webhook headlines) that arrived since the last call.

        Roots are edited in place as the window moves along; a message counts once, as
        first sent, so each step shows exactly what it added.
        """
        now = {
            "telegram": [m.plain for m in self.telegram.messages(ITALIAN)],
            "web only": [m.plain for m in self.telegram.messages(WEB_ONLY)],
            "slack": [m.text for m in self.slack.messages(ENGLISH)],
            "webhook": [
                f"{e['kind']}|{e['headline']}|{e['stamp']}|{e['text']}" for e in self.on_webhook()
            ],
        }
        new = {where: texts[len(self.seen.get(where, [])) :] for where, texts in now.items()}
        self.seen = now
        return new

    def on_webhook(self) -> list[dict[str, Any]]:
        """The `update` of every event the receiver got."""
        return [json.loads(body)["update"] for _, body in self.receiver.received]

    def page(self, path: str) -> str:
        """A public page or feed, which must answer 200."""
        response = self.status.get(path)
        assert response.status_code == 200, response.text
        return response.text

    def component_state(self, key: str) -> str:
        """A component's state in the Statuspage-compatible API."""
        components = self.status.get("/api/v2/summary.json").json()["components"]
        return str(next(c["status"] for c in components if c["id"] == key))


@pytest.fixture
def world(engine: sa.Engine, clock: FakeClock) -> Iterator[World]:
    """Channels following posta on Telegram (it), Slack (en) and a webhook (en)."""

    def timestamp() -> float:  # the fakes date messages by the test's clock
        return clock.current.timestamp()

    with (
        FakeTelegram(
            token=TELEGRAM_TOKEN,
            clock=timestamp,
            global_per_second=None,
            per_chat_per_second=None,
            group_per_minute=None,
        ) as telegram,
        FakeSlack(
            token=SLACK_TOKEN,
            clock=timestamp,
            per_channel_per_second=None,
            workspace_per_second=None,
        ) as slack,
        Receiver() as receiver,
        asyncio.Runner() as loop,
    ):
        telegram.add_chat(ITALIAN, "channel", "Clienti")
        telegram.add_chat(WEB_ONLY, "channel", "Clienti web")
        slack.add_channel(ENGLISH, "customers")
        settings = Settings(
            _env_file=None,
            telegram_bot_token=TELEGRAM_TOKEN,
            telegram_api_url=telegram.api_url,
            slack_bot_token=SLACK_TOKEN,
            slack_api_url=slack.api_url,
            public_url=PUBLIC_URL,
            # No digest destination: no digest fires.
            digest_slack_channel=None,
            digest_telegram_chat=None,
        )
        database = Database(engine, make_session_factory(engine))
        worker = build_worker(
            settings, database, clock=clock, limits=Unlimited(RateSettings(), clock=clock)
        )
        scheduled = Context(
            sessions=database.sessions,
            zone=settings.zone,
            locale=settings.locale,
            actor=SCHEDULER,
            now=clock,
            remind_before=settings.maintenance_reminder,
        )
        world = World(
            settings,
            database,
            clock,
            telegram,
            slack,
            receiver,
            status_client(engine, clock),
            loop,
            worker,
            Scheduler(settings, scheduled, holder="test"),
        )
        world.herald("components add posta Posta")
        world.herald("components add web Web")
        world.herald(f"channels add telegram {ITALIAN} --lang it --components posta")
        world.herald(f"channels add telegram {WEB_ONLY} --lang it --components web")
        world.herald(f"channels add slack {ENGLISH} --lang en --components posta")
        world.herald(
            f"channels add webhook {receiver.url} --secret s3cr3t-x --lang en --components posta"
        )
        try:
            yield world
        finally:
            loop.run(close_senders(worker))


def one_each(arrived: dict[str, list[str]]) -> tuple[str, str, str]:
    """The one Telegram, Slack and webhook message of a step; the web-only channel got none."""
    assert arrived["web only"] == []
    [telegram], [slack], [webhook] = arrived["telegram"], arrived["slack"], arrived["webhook"]
    return telegram, slack, webhook


def test_a_scheduled_maintenance_is_reminded_started_and_completed_on_its_own(
    world: World,
) -> None:
    reply = world.herald(SCHEDULE)
    assert "Customers are reminded 2 h before it." in reply
    world.deliver()
    telegram, slack, webhook = one_each(world.arrived())
    assert telegram == (
        "Manutenzione programmata: Aggiornamento server di posta\n28/01/2025 ore 14:50\n\n"
        "In data 28/01/2025 dalle ore 22:00 alle ore 23:30 verranno effettuate operazioni di "
        "manutenzione programmata.\n\nStato: Programmata"
    )
    assert slack.startswith("Scheduled maintenance: Aggiornamento server di posta")
    assert "On 28 Jan 2025 from 22:00 to 23:30 CET we will carry out scheduled maintenance." in (
        slack
    )
    assert webhook.startswith("maintenance_scheduled|Scheduled maintenance: ")
    assert world.component_state("posta") == "operational"

    # A second before the reminder's moment nothing is due.
    world.at(REMINDER_AT - timedelta(seconds=1))
    assert world.kinds() == KINDS[:1]
    assert world.arrived() == {"telegram": [], "web only": [], "slack": [], "webhook": []}

    world.at(REMINDER_AT)
    assert world.kinds() == KINDS[:2]
    telegram, slack, webhook = one_each(world.arrived())
    assert telegram == (
        "Promemoria: aggiornamento server di posta\n28/01/2025 ore 20:00\n\n"
        "Ricordiamo che in data 28/01/2025 dalle ore 22:00 alle ore 23:30 verranno effettuate "
        "operazioni di manutenzione programmata."
    )
    assert slack == (
        "Reminder: Aggiornamento server di posta — 28 Jan 2025, 20:00 CET\n"
        "A reminder: on 28 Jan 2025 from 22:00 to 23:30 CET we will carry out scheduled "
        "maintenance."
    )
    assert webhook == (
        "maintenance_reminder|Reminder: Aggiornamento server di posta|28 Jan 2025, 20:00 CET|"
        "A reminder: on 28 Jan 2025 from 22:00 to 23:30 CET we will carry out scheduled "
        "maintenance."
    )
    assert world.component_state("posta") == "operational"

    world.at(START)
    assert world.kinds() == KINDS[:3]
    telegram, slack, webhook = one_each(world.arrived())
    assert telegram == (
        "Inizio manutenzione: aggiornamento server di posta\n28/01/2025 ore 22:00\n\n"
        "La manutenzione programmata è iniziata."
    )
    assert slack == (
        "Maintenance started: Aggiornamento server di posta — 28 Jan 2025, 22:00 CET\n"
        "The scheduled maintenance has started."
    )
    assert webhook.startswith("maintenance_started|Maintenance started: ")
    assert world.component_state("posta") == "under_maintenance"
    assert world.component_state("web") == "operational"
    home = world.page("/")
    assert re.search(r"<h3>Posta</h3>\s*<span class=\"state state-under_maintenance\">", home)

    world.at(END)
    assert world.kinds() == KINDS
    telegram, slack, webhook = one_each(world.arrived())
    assert telegram == (
        "Chiusura: aggiornamento server di posta\n28/01/2025 ore 23:30\n\n"
        "L’attività prevista in data 28/01/2025 è iniziata alle 22:00 ed è terminata alle 23:30."
    )
    assert slack == (
        "Maintenance completed: Aggiornamento server di posta — 28 Jan 2025, 23:30 CET\n"
        "The maintenance planned for 28 Jan 2025 started at 22:00 and was completed at 23:30 CET."
    )
    assert webhook.startswith("maintenance_completed|Maintenance completed: ")
    assert world.component_state("posta") == "operational"
    home = world.page("/")
    assert re.search(r"<h3>Posta</h3>\s*<span class=\"state state-operational\">", home)

    # Replies in the thread of the announcement, whose root now tells how it ended.
    root, *replies = world.telegram.messages(ITALIAN)
    assert [m.reply_to for m in replies] == [root.message_id] * 3
    assert root.plain.startswith(
        "Manutenzione programmata: Aggiornamento server di posta (conclusa)"
    )
    assert root.plain.endswith("Stato: Completata")
    slack_root, *slack_replies = world.slack.messages(ENGLISH)
    assert [m.thread_ts for m in slack_replies] == [slack_root.ts] * 3

    # The status page: the incident's page and the Atom feed show each step with its time.
    page = world.page("/incidents/INC-1")
    for label, moment in (
        ("Manutenzione programmata", "28/01/2025 ore 14:50"),
        ("Promemoria", "28/01/2025 ore 20:00"),
        ("Inizio manutenzione", "28/01/2025 ore 22:00"),
        ("Chiusura", "28/01/2025 ore 23:30"),
    ):
        assert re.search(rf"<strong>{label}</strong> · <time [^>]*>{moment}</time>", page), label
    assert "Ricordiamo che in data 28/01/2025 dalle ore 22:00 alle ore 23:30" in page
    assert "In data 28/01/2025 dalle ore 22:00 alle ore 23:30" in page  # the window
    [entry] = parse_feed(world.status, "/feed.atom?lang=en").entries
    assert entry.title == "Aggiornamento server di posta (completed)"
    content = entry.content[0].value
    for label, moment, body in (
        ("Maintenance completed", "23:30", "The maintenance planned for 28 Jan 2025 started at"),
        ("Maintenance started", "22:00", "The scheduled maintenance has started."),
        ("Reminder", "20:00", "A reminder: on 28 Jan 2025 from 22:00 to 23:30 CET we will"),
        ("Scheduled maintenance", "14:50", "On 28 Jan 2025 from 22:00 to 23:30 CET we will"),
    ):
        assert f"<strong>{label}</strong> · 28 Jan 2025, {moment} CET<br />\n{body}" in content
    assert content.index("Maintenance completed") < content.index("Reminder")  # newest first
    [entry] = parse_feed(world.status, "/feed.atom").entries
    assert "<strong>Promemoria</strong> · 28/01/2025 ore 20:00<br />\nRicordiamo che" in (
        entry.content[0].value
    )
    [event] = events(world.status).values()  # the window in the calendar
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (START, END)
    assert "Promemoria: aggiornamento server di posta" in str(event["description"])


def test_a_cancelled_maintenance_sends_no_reminder(world: World) -> None:
    world.herald(SCHEDULE)
    world.deliver()
    world.clock.advance(minutes=10)
    world.herald("maintenance cancel INC-1")
    world.deliver()
    arrived = world.arrived()
    assert arrived["telegram"][1].startswith(
        "Manutenzione annullata: aggiornamento server di posta"
    )
    assert arrived["slack"][1].startswith("Maintenance cancelled: Aggiornamento server di posta")
    assert arrived["webhook"][1].startswith("maintenance_cancelled|")
    for moment in (REMINDER_AT, START, END):
        world.at(moment)
        assert world.arrived() == {"telegram": [], "web only": [], "slack": [], "webhook": []}
    assert world.kinds() == [UpdateKind.MAINTENANCE_SCHEDULED, UpdateKind.MAINTENANCE_CANCELLED]
    assert world.component_state("posta") == "operational"
    assert "Promemoria" not in world.page("/incidents/INC-1")


def test_the_status_page_keeps_the_window_a_reminder_announced(world: World) -> None:
    world.herald(SCHEDULE)
    world.at(REMINDER_AT)
    world.clock.advance(minutes=5)
    world.herald('maintenance extend INC-1 --end "28/01/2025 23:45"')
    world.deliver()
    _announced, reminded, extended = world.arrived()["telegram"]
    assert "dalle ore 22:00 alle ore 23:30" in reminded  # what customers were told at 20:00
    assert "La manutenzione si protrarrà fino al 28/01/2025 ore 23:45." in extended
    page = world.page("/incidents/INC-1")
    assert "Ricordiamo che in data 28/01/2025 dalle ore 22:00 alle ore 23:30" in page
