"""Build the Telegram front-end from the settings: the Application, polling or the webhook."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy.exc
from starlette.routing import Route
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.database import Database
from bot.delivery.telegram import chat_id
from bot.frontend.command_processes import CommandProcesses
from bot.frontend.incident_channel import ensure_incident_channel
from bot.frontend.runner import command_runner
from bot.settings import Settings
from bot.telegram.access import ChatPlaces, TelegramResponders
from bot.telegram.handlers import TelegramHandlers
from bot.telegram.intake import TelegramWebhook, UpdateIntake
from bot.telegram.polling import POLL_SECONDS, Poller
from bot.telegram.subscribers import FOLLOW, SubscriberHandlers
from commands.errors import Refused
from commands.subscriber_words import WORDS
from commands.wording import LOCALES
from storage.channels import list_channels
from storage.models import Audience, Platform, utcnow

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ("message", "callback_query")
# No deadline like Slack's 3 s: a Telegram answer is a message, sent whenever it is ready.
NO_DEADLINE = 3600.0
BACK_OFF = (1.0, 2.0, 5.0, 10.0, 30.0)
SWEEP_SECONDS = 60.0
OPS_COMMANDS = (
    BotCommand("incident", "open, update, resolve, show, list incidents"),
    BotCommand("summary", "the numbers of a period: today, week, month"),
    BotCommand("status", "what customers see on the status page now"),
    BotCommand("help", "the commands, and your Telegram id"),
)


def everyone_commands(locale: str) -> tuple[BotCommand, ...]:
    """The private-chat menu, in a language Herald speaks."""
    return tuple(BotCommand(name, text) for name, text in WORDS[locale].menu)


@dataclass
class TelegramFrontEnd:
    """The Application with Herald's listeners, fed by the poller or by the webhook route."""

    application: Application  # type: ignore[type-arg]
    handlers: TelegramHandlers
    intake: UpdateIntake
    settings: Settings
    clock: Callable[[], datetime]
    ready: bool = field(default=False)

    @property
    def key(self) -> str:
        """Names this bot's lease and cursor without showing its token."""
        token = self.application.bot.token
        return hashlib.sha256(token.encode()).hexdigest()[:12]

    def route(self) -> Route:
        """`POST /telegram/webhook`: updates pushed by Telegram, each with the secret."""
        secret = self.settings.telegram_webhook_secret
        assert secret is not None
        webhook = TelegramWebhook(self.intake, secret.get_secret_value(), lambda: self.ready)
        return Route(WEBHOOK_PATH, endpoint=webhook.handle, methods=["POST"])

    async def run(self, stop: asyncio.Event, *, poll: bool) -> None:
        """Start (retrying while Telegram is unreachable), then poll or wait for the webhook."""
        if not await self._start(stop):
            return
        sweeping = asyncio.ensure_future(self._sweep_orphans(stop))
        try:
            await self._receive(stop, poll=poll)
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    async def _receive(self, stop: asyncio.Event, *, poll: bool) -> None:
        if poll:
            poller = Poller(
                self.application.bot,
                self.intake,
                self.intake.sessions,
                lease=f"telegram-polling:{self.key}",
                allowed_updates=ALLOWED_UPDATES,
                clock=self.clock,
            )
            await poller.run(stop)
        else:
            await stop.wait()

    async def _sweep_orphans(self, stop: asyncio.Event) -> None:
        """Tell the authors of commands a dead process claimed and never finished."""
        while not stop.is_set():
            try:
                orphans = await asyncio.to_thread(self.intake.take_orphans)
            except sqlalchemy.exc.SQLAlchemyError:
                orphans = []  # the poller or the webhook says the database is down
            for orphan in orphans:
                log.warning(
                    "Telegram update %s was claimed at %s and never finished (a process died)",
                    orphan.key,
                    orphan.handled_at,
                )
                await self.handlers.tell_unfinished(
                    orphan.reply_chat, orphan.reply_to, orphan.handled_at
                )
            await _wait(stop, SWEEP_SECONDS)

    async def _start(self, stop: asyncio.Event) -> bool:
        failures = 0
        while not stop.is_set():
            try:
                await self.application.initialize()
                if self.settings.telegram_webhook:
                    await self._set_webhook()
                break
            except TelegramError as error:
                # Said once, then every few minutes while it lasts (a webhook URL Telegram
                # refuses, a revoked token): the status page and delivery go on meanwhile.
                if failures % 10 == 0 or isinstance(error, InvalidToken):
                    log.warning("Telegram front-end not started yet: %s", str(error)[:200])
                await _wait(stop, BACK_OFF[min(failures, len(BACK_OFF) - 1)])
                failures += 1
        else:
            return False
        self.ready = True
        bot = self.application.bot
        log.info("Telegram: commands to @%s read in %s", bot.username, self._mode())
        await self._register_commands()
        return True

    def _mode(self) -> str:
        if self.settings.telegram_webhook:
            return f"webhook mode at {self.settings.public_url.rstrip('/')}{WEBHOOK_PATH}"
        return "polling mode"

    async def _set_webhook(self) -> None:
        secret = self.settings.telegram_webhook_secret
        assert secret is not None
        await self.application.bot.set_webhook(
            url=self.settings.public_url.rstrip("/") + WEBHOOK_PATH,
            secret_token=secret.get_secret_value(),
            allowed_updates=list(ALLOWED_UPDATES),
        )

    async def _register_commands(self) -> None:
        """The command menu: everyone's in private chats, the full one in ops chats and for
        responders in private; a scope Telegram refuses (a chat without the bot) is logged."""
        bot = self.application.bot
        private = BotCommandScopeAllPrivateChats()
        scopes: list[tuple[BotCommandScope, tuple[BotCommand, ...], str | None]] = [
            (private, everyone_commands("en"), None),
            *((private, everyone_commands(lang), lang) for lang in LOCALES if lang != "en"),
        ]
        chats = [*self.settings.telegram_ops_chats, *self.settings.telegram_responders]
        if self.settings.telegram_incident_chat:
            chats.append(self.settings.telegram_incident_chat)
        scopes += [
            (BotCommandScopeChat(chat_id(chat)), OPS_COMMANDS, None)
            for chat in dict.fromkeys(chats)
        ]
        for scope, commands, language in scopes:
            try:
                await bot.set_my_commands(list(commands), scope=scope, language_code=language)
            except TelegramError as error:
                log.info("Telegram command menu not set for %s: %s", scope, str(error)[:200])

    async def close(self, timeout: float = 10.0) -> None:
        """Let the commands under way finish, then close the connections to Telegram."""
        await self.intake.drain(timeout)
        await self.handlers.runner.drain(timeout)
        with contextlib.suppress(TelegramError, RuntimeError):
            await self.application.shutdown()


def telegram_ops_chats(settings: Settings) -> list[str]:
    """Where commands are read: TELEGRAM_OPS_CHATS and the incident chat."""
    chats = list(settings.telegram_ops_chats)
    if settings.telegram_incident_chat:
        chats.append(settings.telegram_incident_chat)
    return chats


def build_telegram(
    settings: Settings,
    database: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    monotonic: Callable[[], float] = time.monotonic,
    changed: Callable[[], None] | None = None,
    processes: CommandProcesses | None = None,
) -> TelegramFrontEnd:
    """The Telegram front-end on this database; no network until it runs."""
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_url)
        .updater(None)
        .request(HTTPXRequest(connection_pool_size=64, read_timeout=15, write_timeout=15))
        .get_updates_request(HTTPXRequest(read_timeout=POLL_SECONDS + 10))
        .build()
    )
    responders = TelegramResponders(settings.telegram_responders)
    runner = command_runner(
        settings,
        database,
        responders,
        deadline=NO_DEADLINE,
        clock=clock,
        monotonic=monotonic,
        changed=changed,
        processes=processes,
    )
    handlers = TelegramHandlers(
        bot=application.bot,
        runner=runner,
        responders=responders,
        places=ChatPlaces(telegram_ops_chats(settings), settings.telegram_incident_chat),
        zone=settings.zone,
        clock=clock,
        public_url=settings.public_url,
        incident_chat=settings.telegram_incident_chat is not None,
        max_age=settings.telegram_max_command_age,
        monotonic=monotonic,
    )
    register(application, handlers)
    token_key = hashlib.sha256(token.encode()).hexdigest()[:12]
    intake = UpdateIntake(
        application, database.sessions, clock=clock, cursor=f"telegram-updates:{token_key}"
    )
    return TelegramFrontEnd(application, handlers, intake, settings, clock)


def register(application: Application, handlers: TelegramHandlers) -> None:  # type: ignore[type-arg]
    """Every listener of the Telegram front-end, in one place."""
    new = filters.UpdateType.MESSAGE  # edits and channel posts are never run as commands
    application.add_handler(CommandHandler("incident", handlers.on_incident, filters=new))
    application.add_handler(CommandHandler("summary", handlers.on_summary, filters=new))
    application.add_handler(CommandHandler("status", handlers.on_status, filters=new))
    customers = SubscriberHandlers(handlers)
    application.add_handler(CommandHandler("start", customers.on_start, filters=new))
    application.add_handler(CommandHandler("help", customers.on_help, filters=new))
    private = new & filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("subscribe", customers.on_subscribe, filters=private))
    application.add_handler(
        CommandHandler("unsubscribe", customers.on_unsubscribe, filters=private)
    )
    application.add_handler(CommandHandler("lang", customers.on_lang, filters=private))
    application.add_handler(
        MessageHandler(new & filters.REPLY & filters.TEXT & ~filters.COMMAND, handlers.on_reply)
    )
    application.add_handler(CallbackQueryHandler(customers.on_follow, pattern=f"^{FOLLOW}:"))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_error_handler(handlers.on_error)


def ensure_incident_chat(settings: Settings, database: Database) -> None:
    """Make the Channel row of TELEGRAM_INCIDENT_CHAT exist (again), or retire it when unset;
    refuse a chat that customers follow, which would get the notes and the buttons."""
    address = settings.telegram_incident_chat
    if address:
        with database.sessions() as session:
            # Telegram's @usernames ignore case: @Acme_Customers is @acme_customers.
            followed = [
                c
                for c in list_channels(session=session)
                if c.platform == Platform.TELEGRAM
                and c.audience == Audience.PUBLIC
                and c.address.lower() == address.lower()
            ]
        if followed:
            raise Refused(
                f"TELEGRAM_INCIDENT_CHAT {address} is customer channel #{followed[0].id}: "
                "internal notes would reach customers. Set it to the responders' group, or "
                f"remove the channel first (herald channels remove #{followed[0].id})"
            )
    ensure_incident_channel(
        database,
        platform=Platform.TELEGRAM,
        address=settings.telegram_incident_chat,
        locale=settings.locale,
        setting="TELEGRAM_INCIDENT_CHAT",
    )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
