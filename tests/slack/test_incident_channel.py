"""The incident channel: a root per incident kept current, its timeline in the thread, delivered
through the outbox, so a rate-limited or broken Slack delays it and loses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.slack.setup import ensure_incident_channel
from storage import channels as channel_store
from storage.models import Audience, Channel, Delivery, DeliveryState, Update
from tests.factories import FakeClock
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.slack.helpers import (
    CUSTOMERS,
    INCIDENTS,
    SlackWorld,
    add_customer_channel,
    start_world,
)

NOTE = "NOTA-RISERVATA ticket 4242"
CUSTOMER_CHAT = "-1001234567890"


def _flat(message: object) -> str:
    return json.dumps(message, ensure_ascii=False, default=lambda o: o.__dict__)


def test_each_incident_gets_a_root_with_its_facts_and_buttons(world: SlackWorld) -> None:
    world.run("components add posta Posta")
    _, url = world.command(
        'open "Problemi consegna posta" --sev 2 --components posta --message Ciao'
    )
    world.answers(url)
    world.deliver()
    [root] = world.slack.messages(INCIDENTS)
    assert root.thread_ts is None
    assert root.blocks is not None
    shown = _flat(root.blocks)
    assert root.blocks[0]["text"]["text"] == "INC-1 · Problemi consegna posta"
    for fact in (
        "SEV2 · Disservizio grave",
        "investigating",
        "Posta",
        "slack:U0ALICE (alice)",
        "<!date^1738072200^{date_short_pretty} {time}|28/01/2025 ore 14:50>",
        "<!date^1738072200^{ago}|",
        "https://status.example.it/incidents/1",
        "Ciao",
    ):
        assert fact in shown, fact
    actions = root.blocks[-1]
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Update",
        "Resolve",
        "Add note",
        "Edit last update",
    ]
    assert {e["value"] for e in actions["elements"]} == {"1"}


def test_updates_notes_and_corrections_go_in_the_thread_and_the_root_follows(
    world: SlackWorld,
) -> None:
    world.run("components add posta Posta")
    world.run("components add web Web")
    for typed in (
        "open Posta lenta --sev 3 --components posta",
        "update 1 --sev 1 --components posta,web Peggiora",
        f"note 1 {NOTE}",
        "edit 1 Peggiora molto",
        "resolve 1 Risolto",
    ):
        _, url = world.command(typed)
        world.answers(url)
    world.deliver()
    root, update, note, resolved = world.slack.messages(INCIDENTS)
    assert {m.thread_ts for m in (update, note, resolved)} == {root.ts}
    assert "Peggiora molto" in _flat(update.blocks)
    assert update.edits  # corrected in place
    assert NOTE in _flat(note.blocks)
    assert "Internal note" in _flat(note.blocks)
    assert "Chiusura" in _flat(resolved.blocks)
    assert root.blocks is not None
    now = _flat(root.blocks)
    assert "INC-1 · Posta lenta (risolto)" in now
    assert "SEV1" in now
    assert "Posta, Web" in now
    assert "resolved after" in now
    assert [e["text"]["text"] for e in root.blocks[-1]["elements"]] == [
        "Add note",
        "Edit last update",
    ]


def test_customers_never_get_notes_or_the_responders_details(world: SlackWorld) -> None:
    add_customer_channel(world)
    world.run("channels add webhook https://hooks.example.it/herald")
    world.run(f"channels add telegram {CUSTOMER_CHAT}")
    for typed in (
        "open Posta lenta --sev 2",
        f"note 1 {NOTE}",
        f"edit 1 --update 2 {NOTE} bis",
        "update 1 Aggiornamento",
        "resolve 1",
    ):
        _, url = world.command(typed)
        world.answers(url)
    world.deliver()
    with world.database.sessions() as session:
        rows = session.exec(
            select(Channel.audience, Channel.address, Update.public, Update.number)
            .join(Delivery, col(Delivery.channel_id) == col(Channel.id))
            .join(Update, col(Update.id) == col(Delivery.update_id))
        ).all()
    public = {
        (address, number)
        for audience, address, shown, number in rows
        if audience == Audience.PUBLIC
    }
    internal = {number for audience, _, _, number in rows if audience == Audience.INTERNAL}
    assert all(shown for audience, _, shown, _ in rows if audience == Audience.PUBLIC)
    assert {number for _, number in public} == {1, 3, 4}  # never #2, the note
    assert internal == {1, 2, 3, 4}  # every public update, and the note
    customers = _flat(world.slack.messages(CUSTOMERS))
    assert NOTE not in customers
    for detail in ("slack:U0ALICE", "Add note", "herald_update", "Opened by", "Internal note"):
        assert detail not in customers


def test_the_incident_channel_gets_what_customers_get_word_for_word(world: SlackWorld) -> None:
    add_customer_channel(world)
    _, url = world.command("open Posta lenta --message Verifichiamo & <!here>")
    world.answers(url)
    _, url = world.command("update 1 Il nodo è stato escluso")
    world.answers(url)
    world.deliver()
    customers = world.slack.messages(CUSTOMERS)
    incident = world.slack.messages(INCIDENTS)
    assert len(customers) == len(incident) == 2
    for customer, internal in zip(customers, incident, strict=True):
        for block in customer.blocks or []:
            if block["type"] == "section":
                assert block["text"]["text"] in _flat(internal.blocks)


@pytest.fixture
def telegram(clock: FakeClock) -> Iterator[FakeTelegram]:
    with FakeTelegram(token="123456:TEST-TOKEN", clock=lambda: clock.current.timestamp()) as fake:
        fake.add_chat(int(CUSTOMER_CHAT), "channel")
        yield fake


@pytest.fixture
def mirrored(
    engine: sa.Engine, clock: FakeClock, slack: FakeSlack, telegram: FakeTelegram
) -> Iterator[SlackWorld]:
    with start_world(
        engine,
        clock,
        slack,
        telegram_bot_token="123456:TEST-TOKEN",
        telegram_api_url=telegram.api_url,
    ) as world:
        world.run(f"channels add telegram {CUSTOMER_CHAT}")
        yield world


def test_a_rate_limited_incident_channel_catches_up_later(
    mirrored: SlackWorld, telegram: FakeTelegram
) -> None:
    world = mirrored
    world.slack.fail_next(2, status=429, retry_after=30, method="chat.postMessage")
    _, url = world.command("open Posta lenta --sev 2")
    assert "Opened INC-1" in world.answer_text(url)  # saved at once
    world.deliver(rounds=5, step=2)  # 10 s: Slack still says wait
    assert len(telegram.messages(int(CUSTOMER_CHAT))) == 1  # customers have it
    assert world.slack.messages(INCIDENTS) == []
    page = world.http.get("/incidents/1")
    assert page.status_code == 200
    assert "Posta lenta" in page.text
    _, url = world.command("update 1 Il nodo è stato escluso")
    world.answers(url)
    world.deliver(rounds=20, step=5)
    root, update = world.slack.messages(INCIDENTS)
    assert update.thread_ts == root.ts
    assert [c.status for c in world.slack.calls("chat.postMessage")] == [429, 429, 200, 200]
    with world.database.sessions() as session:
        first = session.exec(
            select(Delivery)
            .join(Channel, col(Channel.id) == col(Delivery.channel_id))
            .where(Channel.address == INCIDENTS)
            .order_by(col(Delivery.id))
        ).first()
    assert first is not None
    assert first.sent_at is not None
    assert (first.sent_at - first.created_at).total_seconds() >= 60  # two Retry-After: 30


@pytest.mark.parametrize("status", [500, 503])
def test_a_broken_slack_delays_the_thread_and_loses_nothing(
    mirrored: SlackWorld, telegram: FakeTelegram, status: int
) -> None:
    world = mirrored
    world.slack.set_outage(True) if status == 503 else world.slack.fail_next(4, status=status)
    _, url = world.command("open Posta lenta --sev 2")
    world.answers(url)  # the answer goes by response_url, which the outage spares
    _, url = world.command("note 1 guardo io")
    world.answers(url)
    world.deliver(rounds=3, step=1)
    assert world.slack.messages(INCIDENTS) == []
    assert len(telegram.messages(int(CUSTOMER_CHAT))) == 1
    world.slack.set_outage(False)
    world.deliver(rounds=40, step=60)
    root, note = world.slack.messages(INCIDENTS)
    assert note.thread_ts == root.ts
    with world.database.sessions() as session:
        states = set(session.exec(select(Delivery.state)).all())
    assert states == {DeliveryState.SENT}


def test_the_incident_channel_is_recreated_at_start_after_a_remove(world: SlackWorld) -> None:
    _, url = world.command(f"channels remove {INCIDENTS}")
    assert "Removed channel" in world.answer_text(url)
    ensure_incident_channel(world.settings, world.database)
    with world.database.sessions() as session:
        [channel] = channel_store.list_internal_channels(session=session)
    assert (channel.address, channel.enabled) == (INCIDENTS, True)


def test_a_new_incident_channel_retires_the_old_one(world: SlackWorld) -> None:
    moved = world.settings.model_copy(update={"slack_incident_channel": "C0NEWROOM"})
    ensure_incident_channel(moved, world.database)
    unset = world.settings.model_copy(update={"slack_incident_channel": None})
    with world.database.sessions() as session:
        old, new = channel_store.list_internal_channels(session=session)
    assert (old.address, old.enabled, old.disabled_reason) == (
        INCIDENTS,
        False,
        "replaced by the incident channel C0NEWROOM",
    )
    assert (new.address, new.enabled) == ("C0NEWROOM", True)
    ensure_incident_channel(unset, world.database)
    with world.database.sessions() as session:
        assert not any(c.enabled for c in channel_store.list_internal_channels(session=session))


def test_a_customer_channel_named_as_the_incident_channel_becomes_it(world: SlackWorld) -> None:
    add_customer_channel(world)
    moved = world.settings.model_copy(update={"slack_incident_channel": CUSTOMERS})
    ensure_incident_channel(moved, world.database)
    with world.database.sessions() as session:
        [channel] = [c for c in channel_store.list_internal_channels(session=session) if c.enabled]
    assert channel.address == CUSTOMERS
    with world.database.sessions() as session:
        assert len(channel_store.list_channels(session=session)) == 2
