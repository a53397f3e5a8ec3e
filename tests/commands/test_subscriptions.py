"""People manage their own subscriptions: follow services, leave them, come back."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from commands.context import Context
from commands.errors import Refused, UsageError
from commands.subscriptions import (
    Subscription,
    describe,
    set_language,
    subscribe,
    subscription,
    toggle,
    unsubscribe,
    welcome,
)
from storage import subscribers
from storage import updates as storage_updates
from storage.channels import ensure_internal_channel
from storage.models import Channel, Delivery, DeliveryState, Platform, Update
from storage.outbox import disable_channel
from tests.factories import FakeClock, make_component, make_context, make_incident, run

TG = Platform.TELEGRAM
CHAT = "700000001"


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    context = make_context(sessions, clock)
    make_component(context, "posta", "Posta")
    make_component(context, "web", "Web")
    make_component(context, "dns", "DNS")
    return context


def _followed(sub: Subscription) -> list[str]:
    return [c.key for c in sub.choices if c.followed]


def test_subscribing_with_no_service_follows_them_all_and_new_ones_too(ctx: Context) -> None:
    assert not subscription(ctx, platform=TG, address=CHAT, locale="it").subscribed
    sub = subscribe(ctx, platform=TG, address=CHAT, locale="en-GB")
    assert sub.subscribed
    assert sub.everything
    assert sub.locale == "en"
    assert describe(sub) == "You follow every service."
    make_component(ctx, "voip", "VoIP")
    assert "voip" in _followed(subscription(ctx, platform=TG, address=CHAT, locale="it"))


def test_naming_services_follows_those_and_adds_more_later(ctx: Context) -> None:
    sub = subscribe(ctx, platform=TG, address=CHAT, locale="it", keys=["POSTA"])
    assert _followed(sub) == ["posta"]
    sub = subscribe(ctx, platform=TG, address=CHAT, locale="it", keys=["web", "posta"])
    assert _followed(sub) == ["posta", "web"]
    assert describe(sub) == "Segui: Posta, Web."


def test_an_unknown_service_is_refused_with_the_ones_to_choose_from(ctx: Context) -> None:
    with pytest.raises(UsageError, match=r"Servizio sconosciuto: mail\. Scegli tra: posta web dns"):
        subscribe(ctx, platform=TG, address=CHAT, locale="it", keys=["mail"])
    assert not subscription(ctx, platform=TG, address=CHAT, locale="it").subscribed


def test_leaving_one_service_of_all_keeps_the_others_and_leaving_all_deletes_the_address(
    ctx: Context,
) -> None:
    subscribe(ctx, platform=TG, address=CHAT, locale="it")
    sub = unsubscribe(ctx, platform=TG, address=CHAT, locale="it", keys=["web"])
    assert _followed(sub) == ["posta", "dns"]
    sub = unsubscribe(ctx, platform=TG, address=CHAT, locale="it")
    assert not sub.subscribed
    with ctx.sessions() as session:
        assert session.exec(select(Channel).where(Channel.address == CHAT)).first() is None


def test_buttons_toggle_and_the_last_one_off_leaves(ctx: Context) -> None:
    assert _followed(toggle(ctx, platform=TG, address=CHAT, locale="it", key="dns")) == ["dns"]
    both = toggle(ctx, platform=TG, address=CHAT, locale="it", key="web")
    assert _followed(both) == ["web", "dns"]
    toggle(ctx, platform=TG, address=CHAT, locale="it", key="web")
    gone = toggle(ctx, platform=TG, address=CHAT, locale="it", key="dns")
    assert not gone.subscribed


def test_the_language_is_the_persons_choice(ctx: Context) -> None:
    subscribe(ctx, platform=TG, address=CHAT, locale="it")
    assert set_language(ctx, platform=TG, address=CHAT, asked="EN").said == "Language: English."
    assert subscription(ctx, platform=TG, address=CHAT, locale="it").locale == "en"
    with pytest.raises(UsageError, match="/lang it or /lang en"):
        set_language(ctx, platform=TG, address=CHAT, asked="fr")


def test_an_operators_channel_is_not_a_persons_to_change(ctx: Context) -> None:
    run(ctx, "channels add telegram -1001234567890")
    with pytest.raises(Refused, match="operatori"):
        subscribe(ctx, platform=TG, address="-1001234567890", locale="it")


def test_coming_back_after_blocking_gets_the_open_incident_as_it_stands_not_the_backlog(
    ctx: Context,
) -> None:
    subscribe(ctx, platform=TG, address=CHAT, locale="it", keys=["posta"])
    with ctx.sessions() as session, session.begin():
        channel = subscribers.get_subscriber(session=session, platform=TG, address=CHAT)
        assert channel is not None
        assert channel.id is not None
        channel_id = channel.id
        disable_channel(session=session, channel_id=channel_id, reason="Forbidden: blocked")
    incident = make_incident(ctx, components="posta")
    make_incident(ctx, "Sito lento", components="web")  # not followed
    run(ctx, f"update INC-{incident} Individuata la causa")
    run(ctx, f"update INC-{incident} Intervento in corso")
    with ctx.sessions() as session:
        assert session.exec(select(Delivery).where(Delivery.channel_id == channel_id)).all() == []
    back = welcome(ctx, platform=TG, address=CHAT, locale="it")
    assert back.subscribed
    with ctx.sessions() as session:
        queued = session.exec(
            select(Delivery).where(Delivery.channel_id == channel_id).order_by(col(Delivery.id))
        ).all()
    assert len(queued) == 1  # the latest update, not the opening and every one since
    assert queued[0].state == DeliveryState.PENDING


def test_chat_commands_never_name_or_touch_a_subscriber(ctx: Context) -> None:
    subscribe(ctx, platform=TG, address=CHAT, locale="it")
    with ctx.sessions() as session:
        channel = subscribers.get_subscriber(session=session, platform=TG, address=CHAT)
        assert channel is not None
        number = channel.id
    for target in (f"#{number}", str(number), CHAT):
        with pytest.raises(Refused, match="There is no channel"):
            run(ctx, f"channels disable {target}")
    assert subscription(ctx, platform=TG, address=CHAT, locale="it").subscribed
    assert CHAT not in run(ctx, "channels list").text


def test_subscribers_are_queued_by_the_same_rule_as_every_channel(ctx: Context) -> None:
    subscribe(ctx, platform=TG, address="1", locale="it")  # every service
    subscribe(ctx, platform=TG, address="2", locale="it", keys=["posta"])
    subscribe(ctx, platform=TG, address="3", locale="it", keys=["web"])
    subscribe(ctx, platform=TG, address="4", locale="it", keys=["posta"])
    unsubscribe(ctx, platform=TG, address="4", locale="it", keys=["posta"])  # left
    subscribe(ctx, platform=TG, address="5", locale="it", keys=["posta"])
    with ctx.sessions() as session, session.begin():
        five = subscribers.get_subscriber(session=session, platform=TG, address="5")
        assert five is not None
        assert five.id is not None
        disable_channel(session=session, channel_id=five.id, reason="Forbidden: blocked")
    incident = make_incident(ctx, components="posta")
    assert _deliveries_of_any(ctx, "1") == [(1, 0)]
    assert _deliveries_of_any(ctx, "2") == [(1, 0)]
    assert _deliveries_of_any(ctx, "3") == []
    with ctx.sessions() as session:
        assert subscribers.get_subscriber(session=session, platform=TG, address="5") is not None
    # Once following an incident, a subscriber follows it to its end, whatever it touches;
    # a status change also rewrites their thread's first message (revision -1).
    run(ctx, f"update INC-{incident} --status identified Trovata la causa")
    run(ctx, f"edit INC-{incident} --update 2 Trovata la causa: un disco")
    assert _deliveries_of_any(ctx, "2") == [(1, 0), (2, 0), (2, -1), (2, 1)]
    assert _deliveries_of_any(ctx, "3") == []


def test_the_answer_counts_subscribers_among_the_channels(ctx: Context) -> None:
    for n in range(3):
        subscribe(ctx, platform=TG, address=str(n), locale="it")
    reply = run(ctx, 'open "Posta lenta" --sev 2 --components posta')
    assert "Queued for 3 channels." in reply.text


def test_the_answer_counts_each_channel_once_operators_and_subscribers_alike(
    ctx: Context,
) -> None:
    run(ctx, "channels add telegram -1001234567890")
    for n in range(2):
        subscribe(ctx, platform=TG, address=str(n), locale="it")
    reply = run(ctx, 'open "Posta lenta" --sev 2 --components posta')
    assert reply.text.endswith("Queued for 3 channels.")
    assert reply.incident_id is not None
    # A new status is also an edit of each thread's first message: still three channels.
    update = run(ctx, f"update {reply.incident_id} --status identified Trovata la causa")
    assert update.text.endswith("Queued for 3 channels.")
    assert _deliveries_of_any(ctx, "1") == [(1, 0), (2, 0), (2, -1)]
    note = run(ctx, f"note {reply.incident_id} solo per noi")
    assert note.text.endswith("Internal: not sent to customers.")


def test_show_counts_the_subscribers_an_update_went_to_and_names_none(ctx: Context) -> None:
    for n in range(3):
        subscribe(ctx, platform=TG, address=f"70000000{n}", locale="it")
    incident = make_incident(ctx, components="posta")
    shown = run(ctx, f"show INC-{incident}").text
    assert "→ subscribers: 3 (3 pending)" in shown
    assert "no channel follows it" not in shown
    assert "700000001" not in shown


def test_a_command_that_dies_while_queueing_subscribers_leaves_nothing_half_saved(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        subscribe(ctx, platform=TG, address=f"70000000{n}", locale="it")
    real = subscribers.queue_for_subscribers

    def dies_after_writing(**kwargs: Any) -> int:
        real(**kwargs)  # every row written, the transaction not yet committed
        raise KeyboardInterrupt  # the process is stopped half-way

    monkeypatch.setattr(storage_updates, "queue_for_subscribers", dies_after_writing)
    with pytest.raises(KeyboardInterrupt):
        make_incident(ctx, components="posta")
    monkeypatch.undo()
    with ctx.sessions() as session:
        assert session.exec(select(Delivery)).all() == []
        assert session.exec(select(Update)).all() == []
    make_incident(ctx, components="posta")  # sent again: each subscriber once
    with ctx.sessions() as session:
        rows = session.exec(select(Delivery.channel_id)).all()
    assert len(rows) == len(set(rows)) == 5


def test_a_subscribers_chat_made_the_incident_chat_is_the_operators_and_gets_notes(
    ctx: Context,
) -> None:
    subscribe(ctx, platform=TG, address=CHAT, locale="it", keys=["web"])
    with ctx.sessions() as session, session.begin():
        channel, _ = ensure_internal_channel(
            session=session, platform=TG, address=CHAT, locale="it"
        )
        assert not channel.is_subscriber
    incident = make_incident(ctx, components="posta")  # not the old filter's component
    run(ctx, f"note INC-{incident} Guardo i log")
    assert [n for n, r in _deliveries_of_any(ctx, CHAT) if r == 0] == [1, 2]
    with pytest.raises(Refused):
        unsubscribe(ctx, platform=TG, address=CHAT, locale="it")  # not theirs to delete


def _deliveries_of_any(ctx: Context, address: str) -> list[tuple[int, int]]:
    """(update number, revision) of every delivery to the channel at `address`."""
    with ctx.sessions() as session:
        rows = session.exec(
            select(Update.number, Delivery.revision)
            .join(Delivery, col(Delivery.update_id) == col(Update.id))
            .join(Channel, col(Channel.id) == col(Delivery.channel_id))
            .where(Channel.address == address)
            .order_by(col(Delivery.id))
        ).all()
    return [(int(n), int(r)) for n, r in rows]


def test_an_update_only_subscribers_follow_wakes_the_workers_on_postgresql(
    ctx: Context, engine: Any
) -> None:
    # The workers LISTEN for new deliveries: rows queued for subscribers alone must say
    # so too, or they would wait for the next poll.
    if engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    subscribe(ctx, platform=TG, address=CHAT, locale="it")
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute("LISTEN herald_outbox")
        make_incident(ctx, "Posta lenta", components="posta")
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == ["herald_outbox"]
