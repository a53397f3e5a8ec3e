"""Telegram channels through python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.delivery.errors import Unavailable
from bot.delivery.jobs import Destination
from bot.delivery.limits import Landing, RateSettings, Unlimited
from bot.delivery.telegram import TelegramSender
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from commands.context import Context
from storage.models import Channel, Delivery, DeliveryState, Platform
from tests.delivery.helpers import states
from tests.factories import ROME, FakeClock, make_channel, make_context, make_incident, run
from tests.fakes.server import FakeServer
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def telegram(clock: FakeClock) -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN, clock=lambda: clock.current.timestamp()) as fake:
        for chat in ("-1001", "-1002", "-1003"):
            fake.add_chat(int(chat), "channel")
        yield fake


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    context = make_context(sessions, clock)
    make_channel(context, "-1001", options="--lang it")
    return context


def scenario(
    sessions: sessionmaker[Session],
    clock: FakeClock,
    telegram: FakeTelegram,
    body: Callable[[DeliveryWorker], Awaitable[Any]],
) -> Any:
    """Run `body` with a worker whose Telegram sender talks to the fake, in one event loop."""

    async def main() -> Any:
        limits = Unlimited(RateSettings(), clock=clock)
        sender = TelegramSender(TOKEN, api_url=telegram.api_url, limits=limits)
        worker = DeliveryWorker(
            sessions, {Platform.TELEGRAM: sender}, limits, zone=ROME, clock=clock
        )
        try:
            return await body(worker)
        finally:
            await sender.close()

    return asyncio.run(main())


async def settle(worker: DeliveryWorker, clock: FakeClock, rounds: int = 10) -> None:
    """Deliver what is due, letting the fake clock pass any short 429 pause."""
    for _ in range(rounds):
        await worker.drain()
        clock.advance(seconds=2)


def test_opening_then_replies_and_the_root_kept_current(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    async def body(worker: DeliveryWorker) -> None:
        incident_id = make_incident(ctx, "Problemi consegna posta", message="Stiamo verificando")
        await settle(worker, clock)
        clock.current = datetime(2025, 1, 28, 14, 10, tzinfo=UTC)
        run(ctx, f"update {incident_id} --status identified Il nodo è stato escluso")
        await settle(worker, clock)
        clock.advance(minutes=20)
        run(ctx, f"resolve {incident_id}")
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    root, first, last = telegram.messages(-1001)
    assert root.reply_to is None
    assert (first.reply_to, last.reply_to) == (root.message_id, root.message_id)
    assert first.plain.startswith("Aggiornamento: problemi consegna posta\n28/01/2025 ore 15:10")
    assert "Il nodo è stato escluso" in first.plain
    assert last.plain.startswith("Chiusura: problemi consegna posta")
    assert root.plain.startswith(
        "Apertura: Problemi consegna posta (risolto)\n28/01/2025 ore 14:50"
    )
    assert root.plain.endswith("Stato: Risolto")
    assert len(root.edits) == 2  # identified, then resolved
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_correction_edits_the_message_that_carried_it(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    async def body(worker: DeliveryWorker) -> None:
        incident_id = make_incident(ctx, message="Testo")
        run(ctx, f"update {incident_id} Aggiornamento con refuso")
        await settle(worker, clock)
        run(ctx, f"edit {incident_id} Aggiornamento corretto")
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    _root, update = telegram.messages(-1001)
    assert "Aggiornamento corretto" in update.plain
    assert "(corretto)" in update.plain
    assert update.edits
    assert "Aggiornamento con refuso" in update.edits[0]
    assert len(telegram.messages(-1001)) == 2


INJECTIONS = [
    "<script>alert(1)</script> & <b>bold</b> &amp; &lt;",
    "*bold* _italic_ [link](http://x) `code` ~strike~ ||spoiler||",
    "<!channel> <!here> <@U123> @everyone",
    "emoji 🚨🔥 ✅ and right-to-left \u202eevil\u202c \u200fمرحبا",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_user_text_arrives_escaped_and_intact(
    ctx: Context,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    telegram: FakeTelegram,
    text: str,
) -> None:
    async def body(worker: DeliveryWorker) -> None:
        run(ctx, f'open "Titolo {text}" --message "{text}"')
        await worker.drain()

    scenario(sessions, clock, telegram, body)
    [root] = telegram.messages(-1001)
    assert root.parse_mode == "HTML"
    shown = text.replace("\u202e", "").replace("\u202c", "")  # overrides are stripped on input
    assert f"Titolo {shown}" in root.plain
    assert shown in root.plain.split("\n", 2)[2]


LONG_TITLE = "Problemi consegna posta " + " ".join(["e accesso webmail lento"] * 7)


def long_text(word: str) -> str:
    """Nearly 4,000 characters of words: two Telegram messages under LONG_TITLE."""
    return " ".join(f"{word}{n}" for n in range(700))[:3990].rstrip()


def test_a_long_post_is_split_at_word_boundaries_and_resumed_not_repeated(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    words = long_text("parola")
    incident_id = make_incident(ctx, LONG_TITLE)

    async def body(worker: DeliveryWorker) -> None:
        run(ctx, f'update {incident_id} "{words}"')
        run(ctx, f'update {incident_id} "{words} <&>"')
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    _root, *parts = telegram.messages(-1001)
    # The fake's one-message-a-second rule 429s each second part (this worker does
    # not pace itself); the retry must post only what is missing.
    assert len(parts) == 4
    assert all(len(m.plain) <= 4096 for m in parts)
    assert parts[1].plain.split("\n")[0].endswith("(2)")
    first_body = parts[0].plain.split("\n\n", 1)[1] + " " + parts[1].plain.split("\n\n", 1)[1]
    assert first_body == words
    assert parts[3].plain.endswith("<&>")
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_correction_of_a_two_message_update_edits_both(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    incident_id = make_incident(ctx, LONG_TITLE)

    async def body(worker: DeliveryWorker) -> None:
        run(ctx, f'update {incident_id} "{long_text("parola")}"')
        await settle(worker, clock)
        run(ctx, f'edit {incident_id} "{long_text("parola")[:-40]} fine corretta"')
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    _root, first, second = telegram.messages(-1001)
    assert first.edits
    assert second.edits
    assert second.plain.endswith("fine corretta")
    assert "(corretto)" in first.plain
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_correction_that_needs_fewer_or_more_messages_trims_or_adds_them(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    incident_id = make_incident(ctx, LONG_TITLE)
    seen: list[list[str]] = []

    async def step(worker: DeliveryWorker, command: str) -> None:
        run(ctx, command)
        await settle(worker, clock)
        seen.append([m.plain for m in telegram.messages(-1001)[1:]])

    async def body(worker: DeliveryWorker) -> None:
        await step(worker, f'update {incident_id} "{long_text("parola")}"')
        await step(worker, f"edit {incident_id} Testo breve")
        await step(worker, f'edit {incident_id} "{long_text("lemma")}"')
        await step(worker, f'edit {incident_id} "{long_text("lemma")[:-40]} ultima"')

    scenario(sessions, clock, telegram, body)
    assert [len(messages) for messages in seen] == [2, 1, 2, 2]
    assert seen[1][0].endswith("Testo breve")
    _root, first, added = telegram.messages(-1001)
    assert added.reply_to == first.message_id
    assert added.edits  # the last correction found the message the previous one added
    assert added.plain.endswith("ultima")
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_long_opening_shows_its_current_status_at_its_end(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    async def body(worker: DeliveryWorker) -> None:
        incident_id = make_incident(ctx, LONG_TITLE, message=long_text("parola"))
        await settle(worker, clock)
        run(ctx, f"resolve {incident_id}")
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    first, second, _closing = telegram.messages(-1001)
    assert "(risolto)" in first.plain.split("\n")[0]
    assert second.reply_to == first.message_id
    assert second.plain.endswith("Stato: Risolto")


def test_blocked_channel_is_disabled_and_others_carry_on(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    make_channel(ctx, "-1002")
    telegram.block(-1001)

    async def body(worker: DeliveryWorker) -> None:
        make_incident(ctx)
        await worker.drain()

    scenario(sessions, clock, telegram, body)
    assert len(telegram.messages(-1002)) == 1
    with sessions() as session:
        channel = session.exec(select(Channel).where(Channel.address == "-1001")).one()
    assert not channel.enabled
    assert "kicked" in (channel.disabled_reason or "")


def test_a_migrated_group_is_followed(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    telegram.add_chat(-1009, "supergroup")
    telegram.migrate(-1001, -1009)

    async def body(worker: DeliveryWorker) -> None:
        make_incident(ctx)
        await worker.drain()

    scenario(sessions, clock, telegram, body)
    assert len(telegram.messages(-1009)) == 1
    assert "-1009" in run(ctx, "channels list").text


def test_429_storm_no_request_before_retry_after(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    make_channel(ctx, "-1002")
    make_channel(ctx, "-1003")
    telegram.fail_next(
        3, status=429, description="Too Many Requests: retry after 30", retry_after=30
    )

    async def body(worker: DeliveryWorker) -> list[float]:
        make_incident(ctx)
        refused_at: list[float] = []
        for _ in range(60):
            before = len(telegram.requests)
            await worker.drain()
            if any(r.status == 429 for r in telegram.requests[before:]):
                refused_at.append(clock.current.timestamp())
            clock.advance(seconds=5)
        return refused_at

    refused_at = scenario(sessions, clock, telegram, body)
    sends = [r for r in telegram.requests if r.method.lower() == "sendmessage"]
    for when in refused_at:
        assert not [r for r in sends if when < r.at < when + 30]
    assert sum(1 for r in sends if r.status == 200) == 3
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_ten_minute_outage_everything_delivered_in_order_once(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    make_channel(ctx, "-1002")

    async def body(worker: DeliveryWorker) -> None:
        telegram.set_outage(True)
        incident_id = make_incident(ctx)
        for n in range(3):
            clock.advance(minutes=2)
            run(ctx, f"update {incident_id} aggiornamento {n}")
            await worker.drain()
        clock.advance(minutes=4)
        run(ctx, f"resolve {incident_id}")
        await worker.drain()
        telegram.set_outage(False)
        for _ in range(120):
            clock.advance(seconds=30)
            await worker.drain()

    scenario(sessions, clock, telegram, body)
    for chat in (-1001, -1002):
        messages = telegram.messages(chat)
        heads = [m.plain.split("\n", 1)[0].split(":")[0] for m in messages]
        assert heads == ["Apertura", "Aggiornamento", "Aggiornamento", "Aggiornamento", "Chiusura"]
        assert [m.plain.split("\n")[3] for m in messages[1:4]] == [
            "aggiornamento 0",
            "aggiornamento 1",
            "aggiornamento 2",
        ]
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_half_sent_post_starts_afresh_in_the_chat_it_moved_to(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    telegram.add_chat(-1009, "supergroup")

    async def body(worker: DeliveryWorker) -> None:
        make_incident(ctx, LONG_TITLE, message=long_text("parola"))
        await worker.drain()  # the first part goes out; the fake 429s the second
        telegram.migrate(-1001, -1009)
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    first, second = telegram.messages(-1009)
    assert second.reply_to == first.message_id
    assert second.plain.endswith("Stato: In analisi")
    with sessions() as session:
        [ref] = session.exec(select(Delivery.remote_ref)).all()
    assert ref == f"{first.message_id},{second.message_id}"


class SteerableLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock a test can move forward, to run out a time-out at once."""

    skipped = 0.0

    def time(self) -> float:
        """The loop's own clock, plus the seconds the test skipped."""
        return super().time() + self.skipped


class HeldSecondPart(Unlimited):
    """Holds the third request (the second part of a long update) until `release` is set,
    saying when it waits; the requests before and after it pass."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(RateSettings(), clock=clock)
        self.calls = 0
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire(self, platform: Platform, address: str, scope: str) -> Landing:
        self.calls += 1
        if self.calls == 3:
            self.waiting.set()
            await self.release.wait()
        return await super().acquire(platform, address, scope)


def test_a_post_timed_out_half_way_goes_on_from_where_it_stopped(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    incident_id = make_incident(ctx, LONG_TITLE)
    run(ctx, f'update {incident_id} "{long_text("parola")}"')
    send_timeout = 60.0  # never reached in real time; the test moves the loop's clock past it

    async def main(telegram: FakeTelegram) -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SteerableLoop)
        limits = HeldSecondPart(clock)
        sender = TelegramSender(TOKEN, api_url=telegram.api_url, limits=limits)
        worker = DeliveryWorker(
            sessions,
            {Platform.TELEGRAM: sender},
            limits,
            zone=ROME,
            clock=clock,
            settings=WorkerSettings(send_timeout=send_timeout),
        )
        try:
            draining = asyncio.create_task(worker.drain())
            await limits.waiting.wait()  # the root and the update's first part are sent
            loop.skipped += send_timeout + 1  # the second part's send runs out of time
            # A safety net of 30 s (on the moved clock), not a timing margin.
            done, _ = await asyncio.wait({draining}, timeout=30)
            assert done, "the held send never timed out"
            assert len(telegram.messages(-1001)) == 2
            clock.advance(minutes=1)
            await worker.drain()
        finally:
            limits.release.set()
            await sender.close()

    with FakeTelegram(
        token=TOKEN,
        per_chat_per_second=None,
        group_per_minute=None,
        clock=lambda: clock.current.timestamp(),
    ) as telegram:
        telegram.add_chat(-1001, "channel")
        with asyncio.Runner(loop_factory=SteerableLoop) as runner:
            runner.run(main(telegram))
        root, first, second = telegram.messages(-1001)
    assert first.reply_to == second.reply_to == root.message_id
    assert second.plain.split("\n")[0].endswith("(2)")
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_part_telegram_will_not_let_us_delete_is_blanked(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, telegram: FakeTelegram
) -> None:
    incident_id = make_incident(ctx, LONG_TITLE)

    async def body(worker: DeliveryWorker) -> None:
        run(ctx, f'update {incident_id} "{long_text("parola")}"')
        await settle(worker, clock)
        telegram.fail_next(  # past 48 hours, for every try
            10,
            status=400,
            description="Bad Request: message can't be deleted",
            method="deleteMessage",
        )
        run(ctx, f"edit {incident_id} Testo breve")
        await settle(worker, clock)

    scenario(sessions, clock, telegram, body)
    _root, first, left_over = telegram.messages(-1001)
    assert first.plain.endswith("Testo breve")
    assert left_over.plain == "—"
    assert set(states(sessions).values()) == {DeliveryState.SENT}


class _NotTelegram(FakeServer):
    """Whatever sits at TELEGRAM_API_URL answers every call with a 200 HTML page."""

    def __init__(self) -> None:
        async def page(request: Request) -> Response:
            return Response("<html>Welcome to the hotel Wi-Fi</html>", media_type="text/html")

        super().__init__(Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])]))


def test_a_page_that_is_not_json_is_a_failure_to_retry(clock: FakeClock) -> None:
    async def main() -> None:
        sender = TelegramSender(
            "123456:TEST-TOKEN",
            api_url=f"{portal.base_url}/bot",
            limits=Unlimited(RateSettings(), clock=clock),
        )
        try:
            with pytest.raises(Unavailable, match="Invalid server response"):
                await sender.probe(Destination(1, Platform.TELEGRAM, "-1001", "it"), "prova")
        finally:
            await sender.close()

    with _NotTelegram() as portal:
        asyncio.run(main())
