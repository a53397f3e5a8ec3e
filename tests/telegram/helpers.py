"""A Telegram world: the front-end polling (or behind its webhook) against the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
import sqlalchemy as sa
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.database import Database
from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.setup import build_worker, close_senders
from bot.settings import Settings
from bot.telegram.setup import TelegramFrontEnd, build_telegram, ensure_incident_chat
from bot.web import create_app
from commands.context import Actor
from storage.engine import make_session_factory
from storage.models import AuditEvent, Channel, Incident, utcnow
from storage.models import Update as IncidentUpdate
from tests.factories import ROME, FakeClock, make_context, run
from tests.fakes.html import utf16_len
from tests.fakes.telegram import FakeTelegram, Message
from tests.fakes.telegram_updates import CallbackAnswer

TOKEN = "123456:TEST-TOKEN"
SECRET = "test_webhook-secret"
PUBLIC_URL = "https://status.example.it"
OPS = -1001000000001
OTHER_GROUP = -1002000000002
CUSTOMERS = -1003000000003
INCIDENT_CHAT = -1004000000004
ALICE, BOB, CAROL = 1001, 2002, 3003  # responders (Alice, Carol) and a viewer (Bob)
NAMES = {ALICE: "Alice", BOB: "Bob", CAROL: "Carol"}
BOT_USERNAME = "herald_test_bot"  # what the fake's getMe answers
TELEGRAM_LIMIT = 4096  # UTF-16 units of a message after entity parsing


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll for the front-end's background work, with a deadline."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def telegram_settings(fake: FakeTelegram, **overrides: Any) -> Settings:
    """Settings with the Telegram front-end on, pointed at the fake."""
    values: dict[str, Any] = {
        "telegram_bot_token": fake.token,
        "telegram_api_url": fake.api_url,
        "telegram_ops_chats": [str(OPS)],
        "telegram_responders": [str(ALICE), str(CAROL)],
        "public_url": PUBLIC_URL,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def new_fake() -> FakeTelegram:
    """The fake Bot API with the world's chats; its rate limits off (tested elsewhere)."""
    fake = FakeTelegram(
        token=TOKEN, global_per_second=None, per_chat_per_second=None, group_per_minute=None
    )
    fake.add_chat(OPS, "supergroup", "Ops")
    fake.add_chat(OTHER_GROUP, "supergroup", "Somewhere else")
    fake.add_chat(CUSTOMERS, "channel", "Clienti")
    fake.add_chat(INCIDENT_CHAT, "supergroup", "Incidents")
    fake.add_chat(ALICE, "private", "Alice")
    fake.add_chat(BOB, "private", "Bob")
    fake.add_chat(CAROL, "private", "Carol")
    return fake


def tomorrow() -> str:
    """Tomorrow's date in Herald's zone as people type it: 30/11/2026."""
    return (datetime.now(ROME) + timedelta(days=1)).strftime("%d/%m/%Y")


def now_clock() -> FakeClock:
    """A clock that stands still at the present second (Telegram dates messages in real time)."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@dataclass
class TelegramWorld:
    """The front-end running, the fake Bot API, the database, and the web app for webhooks."""

    fake: FakeTelegram
    settings: Settings
    database: Database
    front: TelegramFrontEnd
    http: TestClient
    clock: FakeClock
    front_clock: Callable[[], datetime] = utcnow
    last_update: int = field(default=0)

    # ---- what people do

    def say(self, chat: int, text: str, *, user: int | None = ALICE, **options: Any) -> int:
        """Someone writes in a chat; returns the message id (a webhook world posts it).

        `options` go to the fake's add_user_message: reply_to, date, username, language_code.
        """
        sender = None if chat == CUSTOMERS else user
        if sender in NAMES:
            options.setdefault("first_name", NAMES[sender])
        update = self.fake.add_user_message(chat, text, user_id=sender, **options)
        key = "channel_post" if "channel_post" in update else "message"
        self._push(update)
        return int(update[key]["message_id"])

    def ask(
        self, chat: int, text: str, *, user: int | None = ALICE, **options: Any
    ) -> list[Message]:
        """Someone writes a command; returns all of Herald's replies once it is handled."""
        asked = self.say(chat, text, user=user, **options)
        self.settle()
        return self.fake.replies_to(chat, asked)

    def command(self, chat: int, text: str, *, user: int | None = ALICE, **options: Any) -> Message:
        """Someone writes a command; returns Herald's one reply to it."""
        [reply] = self.ask(chat, text, user=user, **options)
        return reply

    def press(
        self,
        chat: int,
        message: Message,
        label: str,
        *,
        user: int = ALICE,
        language_code: str | None = None,
    ) -> str:
        """Someone taps the button labelled `label` under a bot message; returns the query id."""
        data = button_data(message, label)
        update = self.fake.add_callback_query(
            chat,
            message.message_id,
            data,
            user_id=user,
            first_name=NAMES.get(user),
            language_code=language_code,
        )
        self._push(update)
        return str(update["callback_query"]["id"])

    def _push(self, update: dict[str, Any]) -> None:
        if not update["update_id"]:
            return  # a kind the bot's allowed_updates leave out: Telegram never sends it
        self.last_update = int(update["update_id"])
        if self.settings.telegram_webhook:
            response = self.webhook(update)
            assert response.status_code == 200, response.text

    def webhook(self, update: dict[str, Any], *, secret: str | None = SECRET) -> httpx.Response:
        """POST an update to /telegram/webhook as Telegram does."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.http.post("/telegram/webhook", content=json.dumps(update), headers=headers)

    def settle(self) -> None:
        """Wait until every update pushed so far is claimed and its handling has finished."""
        intake = self.front.intake
        assert wait_until(lambda: (intake.last_handled() or 0) >= self.last_update), (
            f"update {self.last_update} not claimed"
        )
        if not self.settings.telegram_webhook:
            # The poller starts handling an update before it asks for the next ones, which
            # confirms it: once confirmed, draining the intake waits for its handling too.
            assert wait_until(lambda: self.unconfirmed() == []), "updates not confirmed"
        assert self.http.portal is not None
        self.http.portal.call(intake.drain, 5.0)

    def unconfirmed(self) -> list[int]:
        """The ids of the pushed updates that no getUpdates has confirmed yet."""
        pending = [int(update["update_id"]) for update in self.fake.pending_updates()]
        return [update_id for update_id in pending if update_id <= self.last_update]

    # ---- what Telegram saw

    def replies(self, chat: int, to: int, count: int = 1, timeout: float = 5.0) -> list[Message]:
        """The bot's messages replying to message `to`, once `count` have arrived."""
        assert wait_until(lambda: len(self.fake.replies_to(chat, to)) >= count, timeout), (
            f"no reply to {to} in {chat}: {[m.text for m in self.fake.messages(chat)]}"
        )
        return self.fake.replies_to(chat, to)

    def reply(self, chat: int, to: int) -> Message:
        """The one reply to a message."""
        return self.replies(chat, to)[-1]

    def answer_to(self, query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        """The bot's answerCallbackQuery for a press."""

        def found() -> list[CallbackAnswer]:
            return [a for a in self.fake.answers() if a.query_id == query_id]

        assert wait_until(lambda: bool(found()), timeout), f"press {query_id} not answered"
        return found()[-1]

    # ---- the rest of Herald

    def run(self, text: str) -> str:
        """Run a command as an operator at the CLI, on the front-end's clock."""
        ctx = make_context(self.database.sessions, self.front_clock, actor=Actor("ops", "cli"))
        return run(ctx, text).text

    def deliver(self, rounds: int = 5) -> None:
        """Run the delivery worker against the fake until nothing is due."""

        async def main() -> None:
            clock = self.front_clock
            worker = build_worker(
                self.settings,
                self.database,
                clock=clock,
                limits=Unlimited(RateSettings(), clock=clock),
            )
            try:
                for _ in range(rounds):
                    await worker.drain()
            finally:
                await close_senders(worker)

        asyncio.run(main())

    def incidents(self) -> list[Incident]:
        """Every incident saved."""
        with self.database.sessions() as session:
            return list(session.exec(select(Incident).order_by(col(Incident.id))).all())

    def audit(self) -> list[AuditEvent]:
        """Every audit event."""
        with self.database.sessions() as session:
            return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())

    def refusals(self) -> list[AuditEvent]:
        """The audited refusals."""
        return [event for event in self.audit() if event.action == "refused"]

    def timeline(self, incident_id: int = 1) -> list[IncidentUpdate]:
        """An incident's updates and notes, in order."""
        with self.database.sessions() as session:
            query = select(IncidentUpdate).where(IncidentUpdate.incident_id == incident_id)
            return list(session.exec(query.order_by(col(IncidentUpdate.number))).all())

    def channels(self) -> list[Channel]:
        """Every channel saved."""
        with self.database.sessions() as session:
            return list(session.exec(select(Channel).order_by(col(Channel.id))).all())


def assert_well_formed(messages: list[Message]) -> None:
    """Each message parsed as Telegram HTML and fits in one Telegram message."""
    for message in messages:
        assert message.parse_mode == "HTML"
        assert 0 < utf16_len(message.plain) <= TELEGRAM_LIMIT, len(message.plain)


def button_labels(message: Message) -> list[str]:
    """The labels of the inline buttons under a message, row after row."""
    return [button["text"] for row in message.inline_keyboard for button in row]


def button_data(message: Message, label: str) -> str:
    """The callback data of the button labelled `label` (or starting with it)."""
    markup = message.reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if button["text"] == label or button["text"].startswith(label):
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} under {message.text!r}: {markup}")


@contextmanager
def start_world(
    engine: sa.Engine,
    fake: FakeTelegram,
    clock: FakeClock,
    *,
    frozen: bool = False,
    **overrides: Any,
) -> Iterator[TelegramWorld]:
    """The front-end as `herald serve` runs it (polling, or the webhook when a secret is set).

    With `frozen` the front-end and the delivery worker read `clock` (start it with
    now_clock()) instead of the real time, so a test decides when time passes.
    """
    settings = telegram_settings(fake, **overrides)
    database = Database(engine, make_session_factory(engine))
    ensure_incident_chat(settings, database)
    front_clock: Callable[[], datetime] = clock if frozen else utcnow
    front = build_telegram(settings, database, clock=front_clock)
    routes = [front.route()] if settings.telegram_webhook else []
    app = create_app(settings, database, routes, recheck_seconds=0.0)
    stop = asyncio.Event()
    with TestClient(app) as http:
        assert http.portal is not None
        running = http.portal.start_task_soon(
            lambda: front.run(stop, poll=not settings.telegram_webhook)
        )
        assert wait_until(lambda: front.ready, 10.0), "the Telegram front-end did not start"
        try:
            yield TelegramWorld(fake, settings, database, front, http, clock, front_clock)
        finally:
            http.portal.call(stop.set)
            running.result(timeout=10)
            http.portal.call(front.close)
