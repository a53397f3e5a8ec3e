"""Slack customer channels through slack_sdk's AsyncWebClient against the fake Web API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.delivery.errors import Unavailable
from bot.delivery.jobs import Destination
from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.setup import close_senders
from bot.delivery.slack import SlackSender
from bot.delivery.worker import DeliveryWorker
from commands.context import Context
from storage.models import Channel, DeliveryState, Platform
from tests.delivery.helpers import states
from tests.factories import ROME, FakeClock, make_channel, make_context, make_incident, run
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-test-token"


@pytest.fixture
def slack(clock: FakeClock) -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN, clock=lambda: clock.current.timestamp()) as fake:
        fake.add_channel("C0CUSTOMER1", "clienti")
        fake.add_channel("C0CUSTOMER2", "clienti-en")
        yield fake


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    context = make_context(sessions, clock)
    make_channel(context, "C0CUSTOMER1", platform="slack", options="--lang it")
    return context


def scenario(
    sessions: sessionmaker[Session],
    clock: FakeClock,
    slack: FakeSlack,
    body: Callable[[DeliveryWorker], Awaitable[Any]],
) -> Any:
    async def main() -> Any:
        limits = Unlimited(RateSettings(), clock=clock)
        sender = SlackSender(TOKEN, api_url=slack.api_url, limits=limits)
        worker = DeliveryWorker(sessions, {Platform.SLACK: sender}, limits, zone=ROME, clock=clock)
        try:
            return await body(worker)
        finally:
            await sender.close()

    return asyncio.run(main())


async def settle(worker: DeliveryWorker, clock: FakeClock) -> None:
    for _ in range(10):
        await worker.drain()
        clock.advance(seconds=2)


def test_root_message_thread_replies_and_root_update(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, slack: FakeSlack
) -> None:
    async def body(worker: DeliveryWorker) -> None:
        incident_id = make_incident(ctx, "Problemi consegna posta", message="Verifichiamo")
        await settle(worker, clock)
        run(ctx, f"update {incident_id} --status monitoring Sotto controllo")
        run(ctx, f"resolve {incident_id}")
        await settle(worker, clock)

    scenario(sessions, clock, slack, body)
    root, first, last = slack.messages("C0CUSTOMER1")
    assert root.thread_ts is None
    assert first.thread_ts == root.ts
    assert last.thread_ts == root.ts
    assert root.blocks is not None
    assert root.blocks[0]["text"]["text"] == "Apertura: Problemi consegna posta (risolto)"
    assert "Stato: Risolto" in json.dumps(root.blocks, ensure_ascii=False)
    assert root.edits
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_mentions_typed_by_engineers_never_ping(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, slack: FakeSlack
) -> None:
    async def body(worker: DeliveryWorker) -> None:
        run(ctx, 'open "Guasto <!channel>" --message "Avvisate <!here> e <@U123> & <https://x|x>"')
        await settle(worker, clock)

    scenario(sessions, clock, slack, body)
    [root] = slack.messages("C0CUSTOMER1")
    sections = json.dumps(root.blocks, ensure_ascii=False)
    assert "<!here>" not in sections
    assert "<@U123>" not in sections
    assert "&lt;!here&gt; e &lt;@U123&gt; &amp; &lt;https://x|x&gt;" in sections
    assert "<!channel>" not in root.text


def test_retry_after_is_honoured(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, slack: FakeSlack
) -> None:
    slack.fail_next(1, status=429, error="ratelimited", retry_after=20)

    async def body(worker: DeliveryWorker) -> None:
        make_incident(ctx)
        for _ in range(30):
            await worker.drain()
            clock.advance(seconds=1)

    scenario(sessions, clock, slack, body)
    posts = [r for r in slack.requests if r.method == "chat.postMessage"]
    assert [r.status for r in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 20


def test_an_archived_channel_is_disabled(
    ctx: Context, sessions: sessionmaker[Session], clock: FakeClock, slack: FakeSlack
) -> None:
    make_channel(ctx, "C0CUSTOMER2", platform="slack", options="--lang en")
    slack.archive("C0CUSTOMER1")

    async def body(worker: DeliveryWorker) -> None:
        make_incident(ctx)
        await settle(worker, clock)

    scenario(sessions, clock, slack, body)
    assert len(slack.messages("C0CUSTOMER2")) == 1
    with sessions() as session:
        channel = session.exec(select(Channel).where(Channel.address == "C0CUSTOMER1")).one()
    assert (channel.enabled, channel.disabled_reason) == (False, "is_archived")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    """Every aiohttp session opened during the test: Herald's and slack_sdk's own."""
    created: list[aiohttp.ClientSession] = []
    real = aiohttp.ClientSession

    def counting(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        session = real(*args, **kwargs)
        created.append(session)
        return session

    monkeypatch.setattr(aiohttp, "ClientSession", counting)
    return created


def test_every_send_goes_through_one_session_that_close_senders_closes(
    ctx: Context,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    slack: FakeSlack,
    opened: list[aiohttp.ClientSession],
) -> None:
    make_channel(ctx, "C0CUSTOMER2", platform="slack", options="--lang en")

    async def body(worker: DeliveryWorker) -> None:
        for n in range(3):
            incident_id = make_incident(ctx, f"Guasto {n}", message="Verifichiamo")
            await settle(worker, clock)
            run(ctx, f"update {incident_id} --status monitoring Sotto controllo")
            run(ctx, f"resolve {incident_id}")
            await settle(worker, clock)
        assert len(opened) == 1
        assert not opened[0].closed
        await close_senders(worker)
        assert opened[0].closed

    scenario(sessions, clock, slack, body)
    calls = [r for r in slack.requests if r.method in {"chat.postMessage", "chat.update"}]
    assert len(calls) >= 18
    assert len(opened) == 1
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_send_after_close_opens_no_session(
    clock: FakeClock, slack: FakeSlack, opened: list[aiohttp.ClientSession]
) -> None:
    async def main() -> None:
        sender = SlackSender(
            TOKEN, api_url=slack.api_url, limits=Unlimited(RateSettings(), clock=clock)
        )
        destination = Destination(1, Platform.SLACK, "C0CUSTOMER1", "it")
        await sender.probe(destination, "prima")
        await sender.close()
        with pytest.raises(Unavailable):
            await sender.probe(destination, "dopo")

    asyncio.run(main())
    assert [session.closed for session in opened] == [True]
    assert len(slack.messages("C0CUSTOMER1")) == 1
