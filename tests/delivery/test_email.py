"""E-mail against a real SMTP server in the test process: one message per update, threaded,
in the channel's language, HTML escaped; corrections as marked replies; a bounce disables
only its address, a deferral is retried, one connection carries many messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import aiosmtplib
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.database import Database
from bot.delivery.email import (
    EmailSender,
    _refusal,
    _start_tls,
    _too_many_recipients,
    build_sender,
)
from bot.delivery.errors import ChannelGone
from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.mail_pace import DomainBudget, ServerPace
from bot.delivery.setup import build_worker
from bot.delivery.worker import DeliveryWorker
from bot.settings import Settings
from commands.errors import Refused, UsageError
from storage.channels import create_channel
from storage.engine import make_session_factory
from storage.models import Channel, DeliveryState, Platform
from tests.delivery.helpers import states
from tests.factories import ROME, FakeClock, make_context, make_incident, run
from tests.fakes.smtp import MailServer

FROM = "status@isp.example"
HOSTILE = '<script>alert("x")</script> Posta & web'


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


def worker_for(
    sessions: sessionmaker[Session], clock: FakeClock, mail: MailServer, **options: Any
) -> tuple[DeliveryWorker, EmailSender]:
    """A worker on the fake clock whose one sender mails through `mail`."""
    limits = Unlimited(RateSettings(), clock=clock)
    sender = EmailSender(
        mail.url,
        FROM,
        limits=limits,
        public_url="https://status.isp.example",
        site_name="ISP Stato servizi",
        clock=clock,
        **options,
    )
    worker = DeliveryWorker(sessions, {Platform.EMAIL: sender}, limits, zone=ROME, clock=clock)
    return worker, sender


def deliver(worker: DeliveryWorker, sender: EmailSender) -> None:
    async def main() -> None:
        try:
            await worker.drain()
        finally:
            await sender.close()

    asyncio.run(main())


def test_each_update_is_one_mail_threaded_under_the_opening_in_the_channels_language(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@cliente.example --lang it")
    worker, sender = worker_for(sessions, clock, mail)
    incident = make_incident(ctx, HOSTILE, message="Verifiche in corso <b>ora</b>")
    clock.advance(minutes=5)
    run(ctx, f'update {incident} "Causa individuata"')
    clock.advance(minutes=5)
    run(ctx, f'resolve {incident} "Tutto ok"')
    deliver(worker, sender)

    opening, update, closing = mail.arrived
    assert [m.message["Subject"] for m in mail.arrived] == [
        f"[Apertura] {HOSTILE}",
        f"[Aggiornamento] {HOSTILE}",
        f"[Chiusura] {HOSTILE}",
    ]
    assert opening.sender == FROM
    assert opening.recipients == ["noc@cliente.example"]
    assert opening.message["From"] == f"ISP Stato servizi <{FROM}>"
    assert opening.message["Auto-Submitted"] == "auto-generated"
    assert opening.message["In-Reply-To"] is None
    root = opening.message["Message-ID"]
    assert root.endswith("@isp.example>")
    for later in (update, closing):
        assert later.message["In-Reply-To"] == root
        assert later.message["References"] == root
    assert opening.message.get_content_type() == "multipart/alternative"
    text, html = opening.part("plain"), opening.part("html")
    assert HOSTILE in text
    assert "Verifiche in corso <b>ora</b>" in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Posta &amp; web" in html
    assert "Verifiche in corso &lt;b&gt;ora&lt;/b&gt;" in html
    link = f"https://status.isp.example/incidents/{incident}"
    assert f"Stato dei servizi: {link}" in text
    assert f'<a href="{link}">' in html
    assert mail.connections == 1  # three messages, one kept connection


def test_a_correction_is_a_reply_marked_as_such_in_english_too(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@customer.example --lang en")
    worker, sender = worker_for(sessions, clock, mail)
    incident = make_incident(ctx, "Mail delays", message="Investigating")
    run(ctx, f'update {incident} "Cause fuond"')
    deliver(worker, sender)
    run(ctx, f'edit {incident} "Cause found"')
    worker, sender = worker_for(sessions, clock, mail)
    deliver(worker, sender)
    assert len(mail.arrived) == 2  # the correction waits a few minutes for more edits
    clock.advance(minutes=3)
    worker, sender = worker_for(sessions, clock, mail)
    deliver(worker, sender)

    opening, update, correction = mail.arrived
    assert opening.message["Subject"] == "[Opened] Mail delays"
    assert correction.message["Subject"] == "[Correction] Mail delays"
    assert correction.message["In-Reply-To"] == update.message["Message-ID"]
    assert correction.message["References"] == (
        f"{opening.message['Message-ID']} {update.message['Message-ID']}"
    )
    body = correction.part("plain")
    assert body.startswith("The earlier message was corrected; this is the right text:")
    assert "Cause found" in body
    assert "(corrected)" in body


def test_a_bounced_address_disables_only_its_channel(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email gone@cliente.example")
    run(ctx, "channels add email noc@cliente.example")
    mail.refused["gone@cliente.example"] = "550 5.1.1 No such user"
    worker, sender = worker_for(sessions, clock, mail)
    make_incident(ctx)
    deliver(worker, sender)

    assert [m.recipients for m in mail.arrived] == [["noc@cliente.example"]]
    with sessions() as session:
        channels = session.exec(select(Channel).order_by(col(Channel.id))).all()
        assert [c.enabled for c in channels] == [False, True]
        assert channels[0].disabled_reason == "the address bounced: 550 5.1.1 No such user"


def test_a_deferral_is_retried_and_the_mail_arrives_once(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@cliente.example")
    mail.deferred.append("421 4.7.0 Try again later")
    worker, sender = worker_for(sessions, clock, mail)
    make_incident(ctx)
    deliver(worker, sender)
    assert mail.arrived == []
    assert list(states(sessions).values()) == [DeliveryState.FAILED]
    clock.advance(minutes=1)
    worker, sender = worker_for(sessions, clock, mail)
    deliver(worker, sender)
    assert len(mail.arrived) == 1
    assert list(states(sessions).values()) == [DeliveryState.SENT]


def test_channels_add_email_checks_the_address(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    with pytest.raises(UsageError, match="is not an e-mail address: give one like noc@"):
        run(make_context(sessions, clock), "channels add email noc.example.com")


def test_with_no_smtp_settings_mail_is_off_and_the_log_says_what_turns_it_on(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None)
    with caplog.at_level(logging.INFO, logger="bot.delivery.setup"):
        worker = build_worker(settings, Database(engine, make_session_factory(engine)))
    assert Platform.EMAIL not in worker.senders
    assert "no sender for email" in caplog.text
    assert "set SMTP_URL and MAIL_FROM" in caplog.text


@pytest.mark.parametrize(
    ("values", "told"),
    [
        ({"smtp_url": "http://mail.example"}, "SMTP_URL must look like smtp://"),
        ({"smtp_url": "smtp://mail.example:port"}, "port that is not a number"),
        ({"mail_from": "status"}, "MAIL_FROM 'status' is not an e-mail address"),
    ],
)
def test_bad_mail_settings_are_refused_with_what_to_write(
    values: dict[str, str], told: str
) -> None:
    with pytest.raises(ValidationError, match=told):
        Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_smtp_password_is_kept_out_of_logs_unless_too_short_to_be_told_from_words() -> None:
    url = "smtp://herald:l0ng%40enough-pw@mail.example:587"
    settings = Settings(_env_file=None, smtp_url=url)
    assert {url, "l0ng@enough-pw", "l0ng%40enough-pw"} <= set(settings.secrets())
    short = Settings(_env_file=None, smtp_url="smtp://herald:mail@mail.example")
    assert "mail" not in short.secrets()  # would blank the word in every line; the URL is in


def test_channels_test_sends_a_plain_test_message(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    from bot.delivery.probe import send_test

    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@cliente.example")
    with sessions() as session:
        channel = session.exec(select(Channel)).one()
    settings = Settings(_env_file=None, smtp_url=mail.url, mail_from=FROM)
    answer = asyncio.run(send_test(settings, channel))
    assert answer == "accepted by 127.0.0.1"
    [test] = mail.arrived
    assert test.recipients == ["noc@cliente.example"]
    assert "Messaggio di prova da Herald" in test.part("plain")


@pytest.mark.slow
def test_a_server_that_takes_100_recipients_a_minute_gets_all_500_once_and_one_452(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    with sessions() as session, session.begin():
        for number in range(500):
            create_channel(
                session=session,
                platform=Platform.EMAIL,
                address=f"cliente{number:03d}@posta{number % 7}.example",
                locale="it",
                min_severity=None,
                components=[],
            )
    mail.per_minute, mail.clock = 100, clock
    ctx = make_context(sessions, clock)
    limits = Unlimited(RateSettings(), clock=clock)
    sender = EmailSender(
        mail.url, FROM, limits=limits, public_url="https://s.example", site_name="S", clock=clock
    )
    worker = DeliveryWorker(sessions, {Platform.EMAIL: sender}, limits, zone=ROME, clock=clock)
    make_incident(ctx)

    async def main() -> int:
        minutes = 0
        try:
            while DeliveryState.PENDING in states(sessions).values() and minutes < 15:
                await worker.drain()
                clock.advance(seconds=61)
                minutes += 1
        finally:
            await sender.close()
        return minutes

    minutes = asyncio.run(main())
    received = [address for arrived in mail.arrived for address in arrived.recipients]
    assert len(received) == 500
    assert len(set(received)) == 500  # nobody twice
    assert mail.too_many == 1  # the first 452 taught Herald the pace
    assert set(states(sessions).values()) == {DeliveryState.SENT}
    assert max(len(arrived.recipients) for arrived in mail.arrived) <= 50
    assert minutes <= 6  # 100 a minute: five minutes of sending, and the one that found out


@pytest.mark.parametrize(
    ("refusal", "where"),
    [
        ("554 5.7.1 Relay access denied", "refused"),
        ("452 4.3.1 Insufficient system storage", "refused"),
        ("530 5.7.0 Authentication required", "sender_refused"),
    ],
)
def test_a_refusal_about_the_sender_or_the_server_disables_nothing_and_is_retried(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock, refusal: str, where: str
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@cliente.example")
    if where == "refused":
        mail.refused["noc@cliente.example"] = refusal
    else:
        mail.sender_refused = refusal
    worker, sender = worker_for(sessions, clock, mail)
    make_incident(ctx)
    deliver(worker, sender)
    assert list(states(sessions).values()) == [DeliveryState.FAILED]
    with sessions() as session:
        assert session.exec(select(Channel)).one().enabled
    mail.refused.clear()
    mail.sender_refused = None
    clock.advance(minutes=1)
    worker, sender = worker_for(sessions, clock, mail)
    deliver(worker, sender)
    assert len(mail.arrived) == 1


def test_a_bounce_reason_shows_no_full_address(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email mario.rossi@cliente.example")
    mail.refused["mario.rossi@cliente.example"] = (
        "550 5.1.1 <mario.rossi@cliente.example>: Recipient address rejected"
    )
    worker, sender = worker_for(sessions, clock, mail)
    make_incident(ctx)
    deliver(worker, sender)
    with sessions() as session:
        channel = session.exec(select(Channel)).one()
    assert not channel.enabled
    assert channel.disabled_reason is not None
    assert "mario.rossi" not in channel.disabled_reason
    assert "m…@cliente.example" in channel.disabled_reason


@pytest.mark.parametrize("address", [".noc@x.example", "noc..ops@x.example", "noc@-x.example"])
def test_addresses_servers_would_refuse_are_refused_when_added(
    sessions: sessionmaker[Session], clock: FakeClock, address: str
) -> None:
    with pytest.raises(UsageError, match="is not an e-mail address"):
        run(make_context(sessions, clock), f"channels add email {address}")


def test_one_mailbox_is_one_channel_whatever_the_case_of_its_domain(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email Noc@Cliente.EXAMPLE")
    with pytest.raises(Refused, match="already a channel"):
        run(ctx, "channels add email Noc@cliente.example")


def test_a_452_with_nothing_accepted_waits_a_minute_and_a_learned_pace_is_forgotten() -> None:
    clock = FakeClock()
    pace = ServerPace("mail.example", clock=clock)
    until = pace.too_many()  # nothing accepted in the minute before: nothing learned
    assert pace.per_window is None
    assert pace.take(50) == (0, until)
    clock.advance(seconds=62)
    assert pace.take(50) == (50, None)
    pace.accepted(30)
    pace.too_many()
    assert pace.per_window == 30
    clock.advance(hours=1, seconds=1)
    assert pace.take(50) == (50, None)  # an hour on: the server may take more now


def test_a_login_to_another_machine_requires_starttls() -> None:
    assert _start_tls(False, "smtp.isp.example", True) is True
    assert _start_tls(False, "smtp.isp.example", False) is None  # used when offered
    assert _start_tls(False, "127.0.0.1", True) is None
    assert _start_tls(True, "smtp.isp.example", True) is False  # smtps: TLS from the start


def test_half_the_mail_settings_is_a_warning_that_names_the_other_half(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, smtp_url="smtp://mail.example")
    with caplog.at_level(logging.INFO, logger="bot.delivery.setup"):
        build_worker(settings, Database(engine, make_session_factory(engine)))
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (
        "e-mail is half set up: set MAIL_FROM too, or its deliveries wait in the outbox"
    )


def test_edits_minutes_apart_become_one_correction_mail_with_the_final_text(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@customer.example --lang en")
    incident = make_incident(ctx, "Mail delays", message="Investigating")
    deliver(*worker_for(sessions, clock, mail))
    for text in ("Investigatin", "Investigating the relay", "Investigating the relays"):
        clock.advance(minutes=1)
        run(ctx, f'edit {incident} "{text}"')
        deliver(*worker_for(sessions, clock, mail))
    assert len(mail.arrived) == 1
    clock.advance(minutes=3)
    deliver(*worker_for(sessions, clock, mail))
    _, correction = mail.arrived
    assert correction.message["Subject"] == "[Correction] Mail delays"
    assert "Investigating the relays" in correction.part("plain")
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_correction_does_not_hold_back_the_update_behind_it(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@customer.example --lang en")
    incident = make_incident(ctx, "Mail delays", message="Investigatin")
    deliver(*worker_for(sessions, clock, mail))
    run(ctx, f'edit {incident} "Investigating"')
    run(ctx, f'update {incident} "Cause found"')
    deliver(*worker_for(sessions, clock, mail))
    subjects = [m.message["Subject"] for m in mail.arrived]
    assert subjects == ["[Opened] Mail delays", "[Correction] Mail delays", "[Update] Mail delays"]


@pytest.mark.parametrize(
    ("code", "text", "gone"),
    [
        (550, "5.1.1 <m.rossi@x.example>: Recipient address rejected: User unknown", True),
        (550, "Requested action not taken: mailbox unavailable", True),
        (550, "5.2.1 The email account that you tried to reach is disabled", True),
        (553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", False),
        (550, "Relaying denied", False),
        (550, "Administrative prohibition", False),
        (553, "5.1.8 <noreply@isp.example>: Sender address rejected: Domain not found", False),
        (550, "5.1.0 <noreply@isp.example>: Sender address rejected", False),
        (550, "5.7.1 Message blocked", False),
        (554, "5.7.1 Relay access denied", False),
        (451, "4.7.1 Greylisted, try again later", False),
    ],
)
def test_only_a_mailbox_that_does_not_exist_disables_a_channel(
    code: int, text: str, gone: bool
) -> None:
    refusal = _refusal(aiosmtplib.SMTPRecipientRefused(code, text, "m.rossi@x.example"))
    assert isinstance(refusal, ChannelGone) is gone
    assert "m.rossi@" not in refusal.reason


@pytest.mark.parametrize(
    ("text", "pace"),
    [
        ("4.5.3 Too many recipients", True),
        ("Too many recipients", True),
        ("4.3.1 Insufficient system storage", False),
        ("Insufficient system storage", False),
    ],
)
def test_only_a_452_about_recipients_teaches_a_pace(text: str, pace: bool) -> None:
    assert _too_many_recipients(aiosmtplib.SMTPRecipientRefused(452, text, "a@x.example")) is pace


def test_a_held_correction_is_looked_at_again_soon_so_an_update_behind_it_goes(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@customer.example --lang en")
    incident = make_incident(ctx, "Mail delays", message="Investigatin")
    deliver(*worker_for(sessions, clock, mail))
    run(ctx, f'edit {incident} "Investigating"')
    deliver(*worker_for(sessions, clock, mail))  # held: nothing behind it yet
    clock.advance(seconds=10)
    run(ctx, f'resolve {incident} "Fixed"')
    clock.advance(seconds=6)  # 16 s after the edit: looked at again, the resolve waits behind
    deliver(*worker_for(sessions, clock, mail))
    subjects = [m.message["Subject"] for m in mail.arrived]
    assert subjects == [
        "[Opened] Mail delays",
        "[Correction] Mail delays",
        "[Resolved] Mail delays",
    ]


def test_the_sender_reads_a_corrections_age_on_the_workers_clock(clock: FakeClock) -> None:
    settings = Settings(_env_file=None, smtp_url="smtp://127.0.0.1:25", mail_from=FROM)
    sender = build_sender(settings, Unlimited(RateSettings(), clock=clock))
    assert sender.clock is clock


def test_recipients_at_one_domain_keep_to_its_budget_and_the_other_domains_go_at_once(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    addresses = [f"utente{n:02d}@grande.example" for n in range(12)]
    addresses += [f"noc{n}@piccolo.example" for n in range(3)]
    with sessions() as session, session.begin():
        for address in addresses:
            create_channel(
                session=session,
                platform=Platform.EMAIL,
                address=address,
                locale="it",
                min_severity=None,
                components=[],
            )
    ctx = make_context(sessions, clock)
    worker, sender = worker_for(sessions, clock, mail, domain_per_minute=5)
    make_incident(ctx)

    async def minute_by_minute() -> list[list[str]]:
        minutes: list[list[str]] = []
        try:
            for _ in range(4):
                before = len(mail.arrived)
                await worker.drain()
                minutes.append([r for a in mail.arrived[before:] for r in a.recipients])
                clock.advance(seconds=61)
        finally:
            await sender.close()
        return minutes

    minutes = asyncio.run(minute_by_minute())
    domains = [sorted({r.rpartition("@")[2] for r in minute}) for minute in minutes]
    counts = [len(minute) for minute in minutes]
    assert counts == [8, 5, 2, 0]  # 5 of grande's and all 3 of piccolo's, then 5, then 2
    assert domains[0] == ["grande.example", "piccolo.example"]
    assert domains[1:3] == [["grande.example"], ["grande.example"]]
    received = [r for minute in minutes for r in minute]
    assert sorted(received) == sorted(addresses)  # each once
    assert set(states(sessions).values()) == {DeliveryState.SENT}


def test_a_domains_budget_counts_any_minute_and_places_not_used_are_given_back(
    clock: FakeClock,
) -> None:
    budget = DomainBudget(2, clock=clock)
    first = clock.current
    assert budget.take(["a@x.example", "b@y.example"]) == [None, None]
    clock.advance(seconds=30)
    waits = budget.take(["c@X.example", "d@x.example", "e@y.example"])
    assert waits == [None, first + timedelta(minutes=1), None]  # each domain its own wait
    budget.give_back(["c@x.example"])  # not sent after all
    assert budget.take(["f@x.example"]) == [None]
    clock.advance(seconds=31)  # a's place is a minute old; f's is not
    assert budget.take(["g@x.example", "h@x.example"]) == [
        None,
        first + timedelta(seconds=30) + timedelta(minutes=1),
    ]
    assert DomainBudget(0, clock=clock).take(["a@x.example"] * 3) == [None] * 3


def test_a_message_not_sent_gives_its_recipients_domain_places_back(
    mail: MailServer, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "channels add email noc@cliente.example")
    run(ctx, "channels add email ops@cliente.example")
    mail.refused["ops@cliente.example"] = "450 4.2.0 Greylisted, try again later"
    worker, sender = worker_for(sessions, clock, mail, domain_per_minute=2)
    make_incident(ctx)
    deliver(worker, sender)
    assert [a.recipients for a in mail.arrived] == [["noc@cliente.example"]]
    # The greylisted recipient's place was given back: its retry is not held for a minute.
    assert sender.domains.take(["x@cliente.example"]) == [None]
