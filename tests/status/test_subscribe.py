"""Subscribing by e-mail from the status page: double opt-in, the updates of the services
chosen, a page to change them, one-click unsubscribe; privacy and abuse limits."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from html import unescape

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from starlette.testclient import TestClient

from bot.delivery.email import EmailSender
from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.worker import DeliveryWorker
from storage.models import Channel, Platform
from storage.subscribers import followed_components
from tests.factories import ROME, FakeClock, make_context, run
from tests.fakes.smtp import Arrived, MailServer
from tests.status.helpers import PUBLIC_URL, status_client

FROM = "stato@isp.example"
PERSON = "Cliente.Uno@Posta.Example"
STORED = "cliente.uno@posta.example"  # one mailbox, whatever the case typed
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


@pytest.fixture
def site(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer
) -> Iterator[TestClient]:
    ctx = make_context(sessions, clock)
    run(ctx, "components add posta Posta")
    run(ctx, "components add web Web")
    with status_client(engine, clock, smtp_url=mail.url, mail_from=FROM) as client:
        yield client


def _post(site: TestClient, path: str, body: str) -> object:
    return site.post(path, content=body, headers=FORM)


def _link(arrived: Arrived, path: str) -> str:
    found = re.search(rf"{re.escape(PUBLIC_URL)}{path}\?t=[\w.\-%]+", arrived.part("plain"))
    assert found is not None, arrived.part("plain")
    return found[0].removeprefix(PUBLIC_URL)


def _token(link: str) -> str:
    return link.partition("?t=")[2]


def _subscriber(sessions: sessionmaker[Session]) -> Channel | None:
    with sessions() as session:
        return session.exec(select(Channel).where(Channel.address == STORED)).first()


def _deliver(sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer) -> None:
    async def main() -> None:
        limits = Unlimited(RateSettings(), clock=clock)
        sender = EmailSender(
            mail.url, FROM, limits=limits, public_url=PUBLIC_URL, site_name="S", clock=clock
        )
        worker = DeliveryWorker(sessions, {Platform.EMAIL: sender}, limits, zone=ROME, clock=clock)
        try:
            await worker.drain()
        finally:
            await sender.close()

    asyncio.run(main())


def test_subscribe_confirm_receive_change_and_leave_in_one_click(
    site: TestClient, sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer
) -> None:
    form = site.get("/subscribe?lang=en")
    assert form.status_code == 200
    assert "form-action 'self'" in form.headers["content-security-policy"]
    assert '<label for="address">E-mail address</label>' in form.text
    assert 'href="http://testserver/subscribe' not in form.text
    home = site.get("/?lang=en")
    assert f'href="{PUBLIC_URL}/subscribe?lang=en">Get updates by e-mail</a>' in home.text

    asked = site.post(
        "/subscribe?lang=en",
        data={"address": PERSON, "services": "posta", "language": "en"},
    )
    assert asked.status_code == 200
    assert "If the address can be subscribed" in asked.text
    [confirmation] = mail.arrived
    assert confirmation.recipients == [STORED]
    assert confirmation.message["Subject"] == "Confirm your subscription to updates"
    link = _link(confirmation, "/subscribe/confirm")
    assert _subscriber(sessions) is None  # nothing until it is confirmed

    page = site.get(link)  # a mail scanner following the link confirms nothing
    assert page.status_code == 200
    assert _subscriber(sessions) is None
    confirmed = site.post("/subscribe/confirm", data={"t": _token(link)})
    assert confirmed.status_code == 200
    assert "Subscription confirmed." in confirmed.text
    channel = _subscriber(sessions)
    assert channel is not None
    assert channel.is_subscriber
    assert channel.locale == "en"

    ctx = make_context(sessions, clock)
    run(ctx, 'open "Sito lento" --sev 2 --components web')
    run(ctx, 'open "Posta in ritardo" --sev 2 --components posta')
    _deliver(sessions, clock, mail)
    [update] = mail.arrived[1:]
    assert update.recipients == [STORED]
    assert "Posta in ritardo" in update.message["Subject"]
    assert update.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert update.message["List-Id"] == f"S <updates.{FROM.partition('@')[2]}>"
    leave = update.message["List-Unsubscribe"].strip("<>").removeprefix(PUBLIC_URL)
    manage = _link(update, "/subscribe/manage")
    assert f'<a href="{PUBLIC_URL}{unescape(manage)}">' in unescape(update.part("html"))

    shown = site.get(manage)
    assert 'value="posta" checked' in shown.text
    assert STORED in shown.text  # the person's own page names their address
    changed = site.post(
        "/subscribe/manage", data={"t": _token(manage), "services": "web", "language": "it"}
    )
    assert "Scelte salvate." in changed.text
    with sessions() as session:
        assert channel.id is not None
        assert [c.key for c in followed_components(session=session, channel_id=channel.id)] == [
            "web"
        ]

    one_click = site.post(leave, content="List-Unsubscribe=One-Click", headers=FORM)
    assert one_click.status_code == 200
    assert _subscriber(sessions) is None  # the address is deleted
    again = site.post(leave, content="List-Unsubscribe=One-Click", headers=FORM)
    assert again.status_code == 200


def test_the_answer_is_the_same_whether_or_not_the_address_is_subscribed(
    site: TestClient, sessions: sessionmaker[Session], mail: MailServer
) -> None:
    first = site.post("/subscribe", data={"address": PERSON})
    site.post(
        "/subscribe/confirm", data={"t": _token(_link(mail.arrived[0], "/subscribe/confirm"))}
    )
    second = site.post("/subscribe", data={"address": PERSON})
    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    # The subscriber is sent their own link, not a second confirmation.
    assert "/subscribe/manage?t=" in mail.arrived[-1].part("plain")


def test_expired_and_forged_links_subscribe_nobody(
    site: TestClient, sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer
) -> None:
    site.post("/subscribe?lang=en", data={"address": PERSON})
    token = _token(_link(mail.arrived[0], "/subscribe/confirm"))
    forged = site.post("/subscribe/confirm?lang=en", data={"t": token[:-2] + "xx"})
    assert forged.status_code == 400
    assert "This link is not valid" in forged.text
    clock.advance(hours=49)
    expired = site.post("/subscribe/confirm?lang=en", data={"t": token})
    assert expired.status_code == 400
    assert "The link has expired" in expired.text
    assert _subscriber(sessions) is None
    nothing = site.post("/subscribe/unsubscribe", data={"t": "not-a-token"})
    assert nothing.status_code == 400


def test_mistakes_are_told_next_to_their_field(site: TestClient, mail: MailServer) -> None:
    wrong = site.post("/subscribe?lang=en", data={"address": "not an address"})
    assert wrong.status_code == 400
    assert 'aria-invalid="true" aria-describedby="address-error"' in wrong.text
    assert '<span id="address-error"' in wrong.text
    assert 'value="not an address"' in wrong.text  # what was typed stays
    unknown = site.post("/subscribe?lang=en", data={"address": PERSON, "services": "dns"})
    assert unknown.status_code == 400
    assert 'id="services-error"' in unknown.text
    assert mail.arrived == []


def test_confirmation_mails_are_limited_per_address_and_per_client(
    site: TestClient, mail: MailServer, clock: FakeClock
) -> None:
    for _ in range(3):
        assert site.post("/subscribe", data={"address": PERSON}).status_code == 200
    limited = site.post("/subscribe?lang=en", data={"address": PERSON})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3600"
    assert "Too many requests" in limited.text
    for n in range(7):
        site.post("/subscribe", data={"address": f"altro{n}@posta.example"})
    assert site.post("/subscribe", data={"address": "ultimo@posta.example"}).status_code == 429
    assert len(mail.arrived) == 10
    clock.advance(minutes=61)
    assert site.post("/subscribe", data={"address": PERSON}).status_code == 200


def test_a_subscribers_address_is_on_no_public_page_feed_or_api(
    site: TestClient, sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer
) -> None:
    site.post("/subscribe", data={"address": PERSON})
    site.post(
        "/subscribe/confirm", data={"t": _token(_link(mail.arrived[0], "/subscribe/confirm"))}
    )
    run(make_context(sessions, clock), 'open "Posta in ritardo" --sev 2 --components posta')
    for path in (
        "/",
        "/incidents/INC-1",
        "/feed.atom",
        "/feed.rss",
        "/feed.json",
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/metrics",
    ):
        answer = site.get(path)
        assert "cliente.uno" not in answer.text.lower(), path


def test_without_smtp_the_page_offers_no_subscription(engine: sa.Engine, clock: FakeClock) -> None:
    with status_client(engine, clock) as client:
        assert client.get("/subscribe").status_code == 404
        assert "/subscribe" not in client.get("/").text


def test_a_used_confirmation_link_and_the_links_of_a_subscription_that_ended_do_nothing(
    site: TestClient, sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer
) -> None:
    site.post("/subscribe?lang=en", data={"address": PERSON})
    token = _token(_link(mail.arrived[0], "/subscribe/confirm"))
    assert site.post("/subscribe/confirm", data={"t": token}).status_code == 200
    channel = _subscriber(sessions)
    assert channel is not None
    assert STORED not in token  # the address is not in the manage link either:
    site.post("/subscribe?lang=en", data={"address": PERSON})
    manage = _token(_link(mail.arrived[-1], "/subscribe/manage"))
    assert site.post("/subscribe/unsubscribe", data={"t": manage}).status_code == 200
    assert _subscriber(sessions) is None
    replayed = site.post("/subscribe/confirm?lang=en", data={"t": token})
    assert replayed.status_code == 400  # used once: no coming back through it
    assert _subscriber(sessions) is None
    # A new subscription: the old one's links name nothing any more.
    site.post("/subscribe?lang=en", data={"address": PERSON})
    fresh = _token(_link(mail.arrived[-1], "/subscribe/confirm"))
    site.post("/subscribe/confirm", data={"t": fresh})
    old = site.get(f"/subscribe/manage?lang=en&t={manage}")
    assert "This address is not subscribed." in old.text
    assert STORED not in old.text
    assert site.post("/subscribe/unsubscribe", data={"t": manage}).status_code == 200
    assert _subscriber(sessions) is not None


def test_an_operators_list_gets_the_same_answer_and_no_mail(
    site: TestClient, sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer
) -> None:
    run(make_context(sessions, clock), "channels add email Noc@Posta.example")
    theirs = site.post("/subscribe?lang=en", data={"address": "noc@posta.example"})
    anyone = site.post("/subscribe?lang=en", data={"address": "altro@posta.example"})
    assert theirs.status_code == anyone.status_code == 200
    assert theirs.text == anyone.text
    assert [a.recipients for a in mail.arrived] == [["altro@posta.example"]]


def test_a_form_no_browser_sends_is_refused_in_one_line(site: TestClient) -> None:
    crowded = "&".join(f"services=x{n}" for n in range(70))
    for path in ("/subscribe", "/subscribe/confirm", "/subscribe/manage", "/subscribe/unsubscribe"):
        answer = site.post(path, content=crowded, headers=FORM)
        assert answer.status_code == 400, path


def test_a_confirmation_link_written_another_way_is_still_the_used_one(
    site: TestClient, sessions: sessionmaker[Session], mail: MailServer
) -> None:
    site.post("/subscribe", data={"address": PERSON})
    token = _token(_link(mail.arrived[0], "/subscribe/confirm"))
    site.post("/subscribe/confirm", data={"t": token})
    site.post("/subscribe", data={"address": PERSON})
    manage = _token(_link(mail.arrived[-1], "/subscribe/manage"))
    site.post("/subscribe/unsubscribe", data={"t": manage})
    # base64 leaves the last character's low bits unused: other spellings, one signature.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    for other in {alphabet[(last & ~3) | low] for low in range(4)} - {token[-1]}:
        site.post("/subscribe/confirm", data={"t": token[:-1] + other})
    assert _subscriber(sessions) is None
