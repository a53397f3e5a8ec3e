"""People manage their own subscriptions: follow services, leave them, come back."""

from __future__ import annotations

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
from storage.models import Channel, Delivery, DeliveryState, Platform
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
