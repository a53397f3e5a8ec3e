"""E-mail: one message per public update, threaded per incident, over one reused SMTP
connection (aiosmtplib); STARTTLS where the server offers it, or TLS from the start."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import unquote, urlsplit

import aiosmtplib
from markupsafe import Markup, escape

from bot.delivery.errors import ChannelGone, DeliveryError, Rejected, Unavailable
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits
from bot.settings import Settings
from commands import phrases
from storage.models import Platform, utcnow


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
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def message_id(job: DeliveryJob, domain: str) -> str:
    """The same id on every attempt of one delivery, so a receiver can drop a repeat."""
    return (
        f"<herald.{job.incident_id}.{job.update_id}.{job.revision}"
        f".{job.destination.channel_id}@{domain}>"
    )


def compose(job: DeliveryJob, *, mail_from: str, site_name: str, public_url: str) -> EmailMessage:
    """The message for one delivery: plain text and HTML from the same public post."""
    post = job.post
    locale = post.locale
    domain = mail_from.rpartition("@")[2]
    link = f"{public_url.rstrip('/')}/incidents/{job.incident_id}"
    follow = phrases.FOLLOW_ONLINE[locale].format(url=link)
    label = phrases.CORRECTION[locale] if job.is_correction else post.label
    lead = phrases.CORRECTION_TEXT[locale] if job.is_correction else None
    message = EmailMessage()
    message["Subject"] = f"[{_one_line(label)}] {_one_line(post.title)}"
    message["From"] = formataddr((_one_line(site_name), mail_from))
    message["To"] = job.destination.address
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(job, domain)
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = locale
    thread = [ref for ref in (job.root.ref, job.own_ref if job.is_correction else None) if ref]
    if thread and not (job.is_root and not job.is_correction):
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(dict.fromkeys(thread))
    text = post.as_text()
    message.set_content("\n\n".join(part for part in (lead, text, follow) if part))
    message.add_alternative(_html(lead, post.headline, text, link, follow, locale), subtype="html")
    return message


def _html(lead: str | None, headline: str, text: str, link: str, follow: str, locale: str) -> str:
    lines = text.split("\n")
    body = Markup("<br>\n").join(escape(line) for line in lines[1:])
    follow_html = escape(follow).replace(escape(link), Markup('<a href="{0}">{0}</a>').format(link))
    parts = [
        Markup('<!doctype html>\n<html lang="{}"><body>').format(locale),
        Markup("<p><em>{}</em></p>").format(lead) if lead else Markup(""),
        Markup("<h2>{}</h2>").format(headline),
        Markup("<p>{}</p>").format(body),
        Markup("<p>{}</p>").format(follow_html),
        Markup("</body></html>\n"),
    ]
    return str(Markup("\n").join(parts))


class EmailSender:
    """Sends each delivery as one message to its channel's address over a kept connection."""

    def __init__(
        self,
        url: str,
        mail_from: str,
        *,
        limits: RateLimits,
        public_url: str,
        site_name: str,
        timeout: float = 30,
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
            start_tls=None if not tls else False,  # None: STARTTLS when the server offers it
            timeout=timeout,
        )
        self.mail_from = mail_from
        self.limits = limits
        self.public_url = public_url
        self.site_name = site_name
        self._lock = asyncio.Lock()  # one conversation at a time on the one connection

    def scope(self, destination: Destination) -> str:
        """A pause holds back everything sent through this SMTP server."""
        return f"email:{self.host}"

    async def send(self, job: DeliveryJob) -> str | None:
        """Send the update (or its correction, as a reply); return the Message-ID."""
        if job.is_root_refresh:
            return None  # nothing to edit in a mailbox
        message = compose(
            job, mail_from=self.mail_from, site_name=self.site_name, public_url=self.public_url
        )
        await self._deliver(job.destination, message)
        return str(message["Message-ID"])

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a plain test message."""
        message = EmailMessage()
        message["Subject"] = f"[Herald] {_one_line(text)[:60]}"
        message["From"] = formataddr((_one_line(self.site_name), self.mail_from))
        message["To"] = destination.address
        message["Date"] = format_datetime(utcnow())
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        return await self._deliver(destination, message)

    async def _deliver(self, destination: Destination, message: EmailMessage) -> str:
        scope = self.scope(destination)
        async with self.limits.turn(Platform.EMAIL, destination.address, scope), self._lock:
            try:
                return await self._send_once(destination, message)
            except aiosmtplib.SMTPServerDisconnected:
                pass  # the kept connection was closed by the server while idle: once more
            try:
                return await self._send_once(destination, message)
            except aiosmtplib.SMTPServerDisconnected:
                raise Unavailable(f"SMTP server {self.host} hung up") from None

    async def _send_once(self, destination: Destination, message: EmailMessage) -> str:
        try:
            if not self._client.is_connected:
                await self._client.connect()
            _, answer = await self._client.send_message(
                message, sender=self.mail_from, recipients=[destination.address]
            )
        except aiosmtplib.SMTPServerDisconnected:
            raise
        except aiosmtplib.SMTPRecipientsRefused as refused:
            self._client.close()  # a new conversation next time, whatever state this one is in
            raise _refusal(refused.recipients[0]) from None
        except aiosmtplib.SMTPResponseException as error:
            self._client.close()
            raise _failure(error.code, error.message) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            self._client.close()
            raise Unavailable(f"SMTP server {self.host}: {type(error).__name__}") from None
        return f"accepted: {_one_line(answer)[:120]}"

    async def close(self) -> None:
        """Say goodbye to the SMTP server, if connected."""
        if self._client.is_connected:
            try:
                await self._client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self._client.close()


def _refusal(refused: aiosmtplib.SMTPRecipientRefused) -> DeliveryError:
    if 500 <= refused.code < 600:
        return ChannelGone(f"the address bounced: {refused.code} {_one_line(refused.message)}")
    return Unavailable(f"recipient deferred: {refused.code} {_one_line(refused.message)}")


def _failure(code: int, text: str) -> DeliveryError:
    said = f"{code} {_one_line(text)}"
    if 400 <= code < 500 or code < 0:
        return Unavailable(f"SMTP said {said}")
    return Rejected(f"SMTP refused the message: {said}")
