"""E-mail: one message per public update, threaded per incident, over one reused SMTP
connection (aiosmtplib); STARTTLS (required before a login), or TLS from the start."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from typing import assert_never
from urllib.parse import unquote, urlsplit

import aiosmtplib
from markupsafe import Markup, escape

from bot.delivery.errors import ChannelGone, DeliveryError, Paused, Rejected, Unavailable
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits
from bot.delivery.mail_pace import DomainBudget, ServerPace
from bot.delivery.operations import (
    EditMessages,
    Operation,
    Outcome,
    PostCorrection,
    PostOpening,
    Progress,
    RefreshOpening,
    ReplyInThread,
    Sent,
    outcome_of,
)
from bot.settings import Settings
from commands import phrases
from commands.email_subscriptions import links
from commands.subscriber_words import MAIL_WORDS
from storage.models import Platform, utcnow

# Deliveries of one update to several addresses that fall due within this much of each
# other go in one message (the worker sends them concurrently).
COLLECT_SECONDS = 0.05
TOO_MANY_RECIPIENTS = 452
# Mail cannot be edited, so every correction is one more mail: one held this long gathers
# the edits made meanwhile into one (unless something else waits to go behind it).
CORRECTION_SETTLE = timedelta(minutes=3)
CORRECTION_RECHECK = timedelta(seconds=15)


def build_sender(settings: Settings, limits: RateLimits) -> EmailSender:
    """The e-mail sender on SMTP_URL, from MAIL_FROM (the registry builds it from here)."""
    assert settings.smtp_url is not None
    assert settings.mail_from is not None
    return EmailSender(
        settings.smtp_url.get_secret_value(),
        settings.mail_from,
        limits=limits,
        public_url=settings.public_url,
        site_name=settings.site_name,
        max_recipients=settings.smtp_max_recipients,
        domain_per_minute=settings.smtp_domain_per_minute,
        clock=limits.clock,  # the worker's: a correction's age is read against it
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def compose(
    job: DeliveryJob,
    *,
    thread: tuple[str, ...],
    correction: bool,
    mail_from: str,
    site_name: str,
    public_url: str,
    message_id: str,
    to: str,
) -> EmailMessage:
    """The message for a delivery: plain text and HTML from the same public post; a reply
    to the last Message-ID of `thread`, a correction of it if `correction`."""
    post = job.post
    locale = post.locale
    link = f"{public_url.rstrip('/')}/incidents/{job.incident_id}"
    follow = phrases.FOLLOW_ONLINE[locale].format(url=link)
    label = phrases.CORRECTION[locale] if correction else post.label
    lead = phrases.CORRECTION_TEXT[locale] if correction else None
    message = _addressed(f"[{_one_line(label)}] {_one_line(post.title)}", site_name, mail_from, to)
    message["Message-ID"] = message_id
    message["Content-Language"] = locale
    if thread:
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(thread)
    footer = None
    if job.list_token is not None:
        # A subscriber's own mail: RFC 2369's list headers and RFC 8058's one click.
        manage, leave = links(public_url, job.list_token)
        message["List-Id"] = f"{_one_line(site_name)} <updates.{mail_from.rpartition('@')[2]}>"
        message["List-Unsubscribe"] = f"<{leave}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        footer = (MAIL_WORDS[locale].footer, manage)
    text = post.as_text()
    ending = footer[0].format(link=footer[1]) if footer else None
    message.set_content("\n\n".join(part for part in (lead, text, follow, ending) if part))
    message.add_alternative(
        _html(lead, post.headline, text, (link, follow), footer, locale), subtype="html"
    )
    return message


def _addressed(subject: str, site_name: str, mail_from: str, to: str) -> EmailMessage:
    """A message with the headers every mail from Herald has."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((_one_line(site_name), mail_from))
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    message["Auto-Submitted"] = "auto-generated"
    return message


def _linked(sentence: str, link: str) -> Markup:
    """A sentence with the link in it made a link, everything else escaped."""
    return escape(sentence.format(link=link)).replace(
        escape(link), Markup('<a href="{0}">{0}</a>').format(link)
    )


def _html(
    lead: str | None,
    headline: str,
    text: str,
    follow: tuple[str, str],
    footer: tuple[str, str] | None,
    locale: str,
) -> str:
    lines = text.split("\n")
    body = Markup("<br>\n").join(escape(line) for line in lines[1:])
    link, sentence = follow
    follow_html = _linked(sentence.replace(link, "{link}"), link)
    ending = Markup("<p><small>{}</small></p>").format(_linked(*footer)) if footer else Markup("")
    parts = [
        Markup('<!doctype html>\n<html lang="{}"><body>').format(locale),
        Markup("<p><em>{}</em></p>").format(lead) if lead else Markup(""),
        Markup("<h2>{}</h2>").format(headline),
        Markup("<p>{}</p>").format(body),
        Markup("<p>{}</p>").format(follow_html),
        ending,
        Markup("</body></html>\n"),
    ]
    return str(Markup("\n").join(parts))


_Entry = tuple[DeliveryJob, asyncio.Future[str]]


@dataclass
class _Batch:
    """Deliveries of one message to different addresses, collected for one transaction."""

    thread: tuple[str, ...]
    correction: bool
    entries: list[_Entry] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class EmailSender:
    """Sends each update as one message to up to `max_recipients` channels at a time over a
    kept connection; keeps to the pace a server asks for with 452 (see mail_pace)."""

    def __init__(
        self,
        url: str,
        mail_from: str,
        *,
        limits: RateLimits,
        public_url: str,
        site_name: str,
        max_recipients: int = 50,
        domain_per_minute: int = 0,
        timeout: float = 30,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        tls = parts.scheme == "smtps"
        self._client = aiosmtplib.SMTP(
            hostname=self.host,
            port=parts.port or (465 if tls else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls=_start_tls(tls, self.host, bool(parts.username)),
            timeout=timeout,
        )
        self.mail_from = mail_from
        self.domain = mail_from.rpartition("@")[2]
        self.limits = limits
        self.public_url = public_url
        self.site_name = site_name
        self.max_recipients = max_recipients
        self.clock = clock
        self.pace = ServerPace(self.host, clock=clock)
        self.domains = DomainBudget(domain_per_minute, clock=clock)
        self._lock = asyncio.Lock()  # one conversation at a time on the one connection
        self._open: dict[tuple[object, ...], _Batch] = {}
        self._flushing: set[asyncio.Task[None]] = set()

    def scope(self, destination: Destination) -> str:
        """A pause holds back everything sent through this SMTP server."""
        return f"email:{self.host}"

    async def perform(self, operation: Operation, progress: Progress) -> Outcome:
        """Send the update (or its correction, as a reply) with the same update's other
        e-mail deliveries due now; its Message-ID is the reference kept."""
        return await outcome_of(self._mail(operation))

    async def _mail(self, operation: Operation) -> Sent:
        job = operation.job
        match operation:
            case PostOpening():
                thread: tuple[str, ...] = ()
            case ReplyInThread(thread=root):
                thread = (root,) if root else ()
            case PostCorrection(thread=thread):
                if job.superseded:
                    return Sent()  # a later edit's correction mail carries the final text
                self._hold(job)
            case EditMessages() | RefreshOpening():
                raise Rejected("a mail already sent cannot be edited")
            case _:
                assert_never(operation)
        correction = isinstance(operation, PostCorrection)
        # A subscriber's mail carries their own unsubscribe link: one recipient a message.
        alone = job.destination.address if job.list_token is not None else None
        key = (type(operation), job.update_id, job.revision, job.post.locale, thread, alone)
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(thread, correction)
            batch.timer = asyncio.get_running_loop().call_later(
                COLLECT_SECONDS, self._flush_soon, key
            )
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        batch.entries.append((job, answer))
        if len(batch.entries) >= self.max_recipients:
            self._flush_soon(key)
        return Sent(await answer)

    def _hold(self, job: DeliveryJob) -> None:
        """Keep a correction back a few minutes, for the edits that often follow the first."""
        now = self.clock()
        settled = job.queued_at + CORRECTION_SETTLE
        if not job.others_waiting and now < settled:
            # Looked at again every little while: an update queued behind it meanwhile
            # must not wait the whole three minutes.
            until = min(settled, now + CORRECTION_RECHECK)
            raise Paused("a correction waits for more edits", until=until)

    def _flush_soon(self, key: tuple[object, ...]) -> None:
        batch = self._open.pop(key, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        task = asyncio.create_task(self._flush(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, batch: _Batch) -> None:
        try:
            await self._send_batch(batch)
        except BaseException as error:
            failure = (
                error
                if isinstance(error, DeliveryError)
                else Unavailable(f"e-mail not sent: {type(error).__name__}")
            )
            for _, answer in batch.entries:
                if not answer.done():
                    answer.set_exception(failure)
            if not isinstance(error, Exception):
                raise

    async def _send_batch(self, batch: _Batch) -> None:
        first = batch.entries[0][0]
        scope = self.scope(first.destination)
        async with self.limits.turn(Platform.EMAIL, "", scope), self._lock:
            # A send given up by the worker (its time-out) while it waited is not sent.
            entries = [(job, answer) for job, answer in batch.entries if not answer.done()]
            if not entries:
                return
            entries = self._within_budgets(entries)
            if not entries:
                return
            first = entries[0][0]
            # Its first delivery names it: the same on a retry of that delivery.
            ident = (
                f"<herald.{first.incident_id}.{first.update_id}.{first.revision}"
                f".{first.delivery_id}@{self.domain}>"
            )
            addresses = [job.destination.address for job, _ in entries]
            message = compose(
                first,
                thread=batch.thread,
                correction=batch.correction,
                mail_from=self.mail_from,
                site_name=self.site_name,
                public_url=self.public_url,
                message_id=ident,
                to=addresses[0] if len(addresses) == 1 else "undisclosed-recipients:;",
            )
            try:
                outcomes = await self._transaction(message, addresses)
            except BaseException:
                self.domains.give_back(addresses)
                raise
            self.domains.give_back([a for a in addresses if outcomes.get(a) is not None])
        for job, answer in entries:
            outcome = outcomes.get(job.destination.address)
            if answer.done():
                continue  # given up meanwhile: at most this one is sent again later
            if outcome is None:
                answer.set_result(ident)
            else:
                answer.set_exception(outcome)

    def _within_budgets(self, entries: list[_Entry]) -> list[_Entry]:
        """The entries the recipient domains' budgets and the server's pace let go now;
        the others are answered when they may go."""
        waits = self.domains.take([job.destination.address for job, _ in entries])
        for (_, answer), wait in zip(entries, waits, strict=True):
            if wait is not None:
                answer.set_exception(Paused("the recipient domain's budget", until=wait))
        entries = [entry for entry, wait in zip(entries, waits, strict=True) if wait is None]
        if not entries:
            return []
        allowed, until = self.pace.take(len(entries))
        self.domains.give_back([job.destination.address for job, _ in entries[allowed:]])
        for _, answer in entries[allowed:]:
            assert until is not None
            answer.set_exception(Paused("the SMTP server's pace (452)", until=until))
        return entries[:allowed]

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a plain test message."""
        await self.send_notice(destination.address, f"[Herald] {_one_line(text)[:60]}", text)
        return f"accepted by {self.host}"

    async def send_notice(self, to: str, subject: str, text: str) -> None:
        """A plain one-off mail to one person (a test, a subscription's confirmation);
        raises DeliveryError when it was not taken."""
        message = _addressed(subject, self.site_name, self.mail_from, to)
        message.set_content(text)
        async with self.limits.turn(Platform.EMAIL, "", f"email:{self.host}"), self._lock:
            outcome = (await self._transaction(message, [to])).get(to)
        if outcome is not None:
            raise outcome

    async def _transaction(
        self, message: EmailMessage, addresses: list[str]
    ) -> dict[str, DeliveryError | None]:
        """One SMTP transaction; what became of each address (None: accepted). A server
        that closed the kept connection while it was idle is tried once more; one that
        hangs up once the message went is not (it may have taken it)."""
        try:
            return await self._once(message, addresses)
        except _HungUp as hung_up:
            if hung_up.message_sent:
                raise Unavailable(f"SMTP server {self.host} hung up after the message") from None
        try:
            return await self._once(message, addresses)
        except _HungUp:
            raise Unavailable(f"SMTP server {self.host} hung up") from None

    async def _once(
        self, message: EmailMessage, addresses: list[str]
    ) -> dict[str, DeliveryError | None]:
        client = self._client
        outcomes: dict[str, DeliveryError | None] = {}
        accepted: list[str] = []
        sending = False
        try:
            if not client.is_connected:
                await client.connect()
            await client.mail(self.mail_from)
            for number, address in enumerate(addresses):
                try:
                    await client.rcpt(address)
                except aiosmtplib.SMTPRecipientRefused as refused:
                    if _too_many_recipients(refused):
                        # Stop adding: what was accepted goes now, the rest at the pace
                        # the server has just shown, never to anyone twice.
                        self.pace.accepted(len(accepted))
                        until = self.pace.too_many()
                        later = Paused(f"{refused.code} too many recipients", until=until)
                        outcomes.update(dict.fromkeys(addresses[number:], later))
                        break
                    outcomes[address] = _refusal(refused)
                else:
                    accepted.append(address)
            else:
                self.pace.accepted(len(accepted))
            if not accepted:
                await client.rset()
                return outcomes
            sending = True
            await client.data(message.as_bytes(policy=SMTP_POLICY))
        except aiosmtplib.SMTPServerDisconnected:
            raise _HungUp(message_sent=sending) from None
        except aiosmtplib.SMTPResponseException as error:
            client.close()  # a new conversation next time, whatever state this one is in
            failed = _failure(error.code, error.message, at_data=sending)
            return {**outcomes, **dict.fromkeys(accepted or addresses, failed)}
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            client.close()
            raise Unavailable(f"SMTP server {self.host}: {type(error).__name__}") from None
        outcomes.update(dict.fromkeys(accepted, None))
        return outcomes

    async def close(self) -> None:
        """Send what is being collected, then say goodbye to the SMTP server."""
        for key in list(self._open):
            self._flush_soon(key)
        if self._flushing:
            await asyncio.wait(set(self._flushing))
        if self._client.is_connected:
            try:
                await self._client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self._client.close()


def _start_tls(tls: bool, host: str, login: bool) -> bool | None:
    """STARTTLS: required before a login to another machine, so nobody who strips the
    server's offer of it reads the password; else used when the server offers it."""
    if tls:
        return False  # TLS from the start (smtps)
    if login and host not in ("localhost", "127.0.0.1", "::1"):
        return True
    return None


class _HungUp(Exception):
    """The server closed the connection; `message_sent` if it may have taken the message."""

    def __init__(self, *, message_sent: bool) -> None:
        super().__init__("hung up")
        self.message_sent = message_sent


_ADDRESS = re.compile(r"([^\s<>\"@:;,(])[^\s<>\"@:;,(]*@")
# RFC 3463 codes for "this mailbox does not exist": only these disable a channel; a
# refusal about the sender (5.1.7, 5.1.8, 5.7.x: relay, authentication, policy) does not.
_NO_SUCH_MAILBOX = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"})
# Without an enhanced code, a 550 must say so in words, and say nothing of the sender.
_MAILBOX_WORDS = ("unknown", "no such", "does not exist", "mailbox unavailable", "not found")
_NOT_THE_MAILBOX = ("sender", "relay", "rcpthosts", "prohibit", "policy", "blocked")


def _masked(text: str) -> str:
    """A server's words with every address in them shown as n…@domain."""
    return _ADDRESS.sub(r"\1…@", _one_line(text))


def _enhanced(text: str) -> str:
    words = text.split()
    return words[0] if words and words[0][:1].isdigit() else ""


def _too_many_recipients(refused: aiosmtplib.SMTPRecipientRefused) -> bool:
    """452 4.5.3, or a bare 452 that speaks of recipients: too many, the pace to learn; a
    452 4.3.1 (the server short of storage) is an ordinary deferral."""
    if refused.code != TOO_MANY_RECIPIENTS:
        return False
    enhanced = _enhanced(refused.message)
    return enhanced == "4.5.3" or (not enhanced and "recipient" in refused.message.lower())


def _refusal(refused: aiosmtplib.SMTPRecipientRefused) -> DeliveryError:
    said = f"{refused.code} {_masked(refused.message)}"
    enhanced = _enhanced(refused.message)
    words = refused.message.lower()
    about_the_mailbox = refused.code in (550, 551, 553) and not any(
        w in words for w in _NOT_THE_MAILBOX
    )
    missing = enhanced in _NO_SUCH_MAILBOX or (
        not enhanced and any(w in words for w in _MAILBOX_WORDS)
    )
    if about_the_mailbox and missing:
        return ChannelGone(f"the address bounced: {said}")
    return Unavailable(f"recipient not taken now: {said}")


def _failure(code: int, text: str, *, at_data: bool) -> DeliveryError:
    """A refusal of the whole message. Only the message's own content or size refused at
    DATA (5.6.x, 552) is final; a refusal of the login or the sender (a setting gone
    wrong: 530, 535, 5.7.x) is retried until the delivery's horizon, never dead at once."""
    said = f"{code} {_masked(text)}"
    words = text.split()
    content = at_data and (code == 552 or (bool(words) and words[0].startswith("5.6.")))
    if content:
        return Rejected(f"SMTP refused the message: {said}")
    return Unavailable(f"SMTP said {said}")
