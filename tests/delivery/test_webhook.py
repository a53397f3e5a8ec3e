"""Webhooks: a signed JSON event per update, retried on 5xx, the channel disabled on 410."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.webhook import SIGNATURE_HEADER, WebhookSender
from bot.delivery.worker import DeliveryWorker
from storage.models import Channel, DeliveryState, Platform
from tests.delivery.helpers import states
from tests.factories import ROME, FakeClock, make_context, make_incident, run
from tests.fakes.webhook import Receiver

SECRET = "s3cr3t-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def worker_for(sessions: sessionmaker[Session], clock: FakeClock) -> DeliveryWorker:
    limits = Unlimited(RateSettings(), clock=clock)
    sender = WebhookSender(limits=limits, public_url="https://status.example")
    return DeliveryWorker(sessions, {Platform.WEBHOOK: sender}, limits, zone=ROME, clock=clock)


def verify(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    parts = dict(item.split("=", 1) for item in headers[SIGNATURE_HEADER.lower()].split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    payload: dict[str, Any] = json.loads(body)
    return payload


def test_each_update_is_posted_as_a_signed_event(
    receiver: Receiver, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, f"channels add webhook {receiver.base_url}/hook --secret {SECRET} --lang en")
    worker = worker_for(sessions, clock)

    async def scenario() -> int:
        incident_id = make_incident(ctx, "<b>Mail</b> & more", message="Investigating <!channel>")
        await worker.drain()
        run(ctx, f"edit {incident_id} Corrected text")
        await worker.drain()
        return incident_id

    incident_id = asyncio.run(scenario())
    events = [verify(headers, body) for headers, body in receiver.received]
    assert [e["type"] for e in events] == ["update.posted", "update.corrected"]
    first = events[0]
    assert first["schema"] == "herald.event.v1"
    assert first["incident"]["id"] == f"INC-{incident_id}"
    assert first["incident"]["title"] == "<b>Mail</b> & more"
    assert first["incident"]["url"] == f"https://status.example/incidents/{incident_id}"
    assert first["update"]["text"] == "Investigating <!channel>"
    assert first["update"]["headline"] == "Opened: <b>Mail</b> & more"
    assert events[1]["update"]["text"] == "Corrected text"
    assert events[1]["update"]["revision"] == 1


def test_5xx_is_retried_and_410_disables_the_channel(
    receiver: Receiver, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, f"channels add webhook {receiver.base_url}/hook --secret {SECRET}")
    receiver.statuses = [503]
    worker = worker_for(sessions, clock)

    async def scenario() -> None:
        make_incident(ctx)
        await worker.drain()
        assert list(states(sessions).values()) == [DeliveryState.FAILED]
        clock.advance(minutes=1)
        await worker.drain()
        assert list(states(sessions).values()) == [DeliveryState.SENT]
        receiver.statuses = [410]
        make_incident(ctx, "Altro")
        await worker.drain()

    asyncio.run(scenario())
    with sessions() as session:
        channel = session.exec(select(Channel)).one()
    assert not channel.enabled
    assert channel.disabled_reason == "HTTP 410 from the receiver"
