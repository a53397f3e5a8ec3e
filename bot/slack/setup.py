"""Build the Slack app from the settings: HTTP route, Socket Mode, and the incident channel row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from bot.database import Database
from bot.frontend.command_processes import CommandProcesses
from bot.frontend.incident_channel import ensure_incident_channel as ensure_channel
from bot.frontend.runner import command_runner
from bot.settings import Settings
from bot.slack.endpoint import SlackEndpoint
from bot.slack.handlers import SlackHandlers, register
from bot.slack.http import SlackHttp
from bot.slack.responders import Responders
from bot.slack.runner import DEADLINE_SECONDS
from storage.models import Platform, utcnow

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class _OurTokenWins(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment by itself, then warns that the client
    Herald gives it takes precedence; by design it does (see build_slack), so drop the warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOG = logging.getLogger("bot.slack.bolt")
BOLT_LOG.addFilter(_OurTokenWins())


def slack_configured(settings: Settings) -> bool:
    """A bot token, and a way to hear from Slack: a signing secret (HTTP) or an app token."""
    return settings.slack_bot_token is not None and (
        settings.slack_signing_secret is not None or settings.slack_app_token is not None
    )


@dataclass(frozen=True)
class SlackFrontEnd:
    """The bolt app with Herald's listeners, ready to be served over HTTP or Socket Mode."""

    app: AsyncApp
    handlers: SlackHandlers
    signing_secret: str

    def route(self) -> Route:
        """`POST /slack/events`: commands, buttons and modals, each signature checked first."""
        endpoint = SlackEndpoint(self.app, self.signing_secret)
        return Route(EVENTS_PATH, endpoint=endpoint.handle, methods=["POST"])

    async def close(self, timeout: float = 10.0) -> None:
        """Let the commands under way finish, then close the pooled connections to Slack."""
        await self.handlers.drain(timeout)
        await self.handlers.http.close()

    async def run_socket_mode(self, app_token: str, stop: asyncio.Event) -> None:
        """Hold a Socket Mode connection until `stop` (no public URL needed).

        slack_sdk's client keeps trying to connect, and reconnects, by itself.
        """
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.app, app_token)
        connecting = asyncio.ensure_future(handler.connect_async())  # type: ignore[no-untyped-call]
        log.info("Slack: connecting in Socket Mode")
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await handler.close_async()  # type: ignore[no-untyped-call]
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting


def build_slack(
    settings: Settings,
    database: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    monotonic: Callable[[], float] = time.monotonic,
    deadline: float = DEADLINE_SECONDS,
    changed: Callable[[], None] | None = None,
    processes: CommandProcesses | None = None,
) -> SlackFrontEnd:
    """The Slack front-end on this database; no network until the first request.

    `changed` is called (from a worker thread) after each committed change, to wake an
    in-process delivery worker.
    `processes`, when given, run the commands instead of threads of this process.
    """
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value()
    http = SlackHttp(token, settings.slack_api_url)

    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        # One workspace, one bot token: nothing to look up, so no auth.test call that a
        # Slack outage or rate limit could fail before a command is even read.
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=token, user_id=user_id
        )

    secret = settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret is not None else ""
    app = AsyncApp(
        name="herald",
        logger=BOLT_LOG,
        client=AsyncWebClient(base_url=settings.slack_api_url, timeout=10),
        signing_secret=signing_secret,
        authorize=authorize,
        # Answered when the listener returns, which is at its ack (handlers.register).
        process_before_response=True,
    )
    responders = Responders(settings.slack_responders, http, clock=monotonic)
    handlers = SlackHandlers(
        runner=command_runner(
            settings,
            database,
            responders,
            deadline=deadline,
            clock=clock,
            monotonic=monotonic,
            changed=changed,
            processes=processes,
        ),
        http=http,
        responders=responders,
        sessions=database.sessions,
        zone=settings.zone,
        clock=clock,
        public_url=settings.public_url,
        incident_channel=settings.slack_incident_channel,
        monotonic=monotonic,
    )
    register(app, handlers)
    return SlackFrontEnd(app, handlers, signing_secret)


def ensure_incident_channel(settings: Settings, database: Database) -> None:
    """Make the Channel row of SLACK_INCIDENT_CHANNEL exist (again), or retire it when unset."""
    ensure_channel(
        database,
        platform=Platform.SLACK,
        address=settings.slack_incident_channel,
        locale=settings.locale,
        setting="SLACK_INCIDENT_CHANNEL",
    )
