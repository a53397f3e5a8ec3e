"""Slack channels: the opening as a Block Kit message, updates in its thread.

Customer channels get the public post; the internal incident channel gets the same
timeline with the responders' details, its notes, and the buttons (bot/slack/thread.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, assert_never

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.delivery.errors import (
    ChannelGone,
    RateLimited,
    Rejected,
    Unavailable,
    retry_after_seconds,
)
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits
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
from bot.delivery.slack_format import mrkdwn_escape, post_message, root_message
from bot.settings import Settings
from bot.slack.http import SlackHttp
from bot.slack.thread import incident_reply, incident_root
from storage.models import Platform, UpdateKind

log = logging.getLogger(__name__)

GONE = {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"}
HARMLESS_EDIT = {"message_not_found", "cant_update_message", "edit_window_closed"}
TIMEOUT_SECONDS = 15


def split_ref(ref: str | None) -> tuple[str, str] | None:
    """A stored `channel/ts` reference as its two parts."""
    if not ref or "/" not in ref:
        return None
    channel, ts = ref.split("/", 1)
    return channel, ts


def build_sender(settings: Settings, limits: RateLimits) -> SlackSender:
    """The Slack sender on SLACK_BOT_TOKEN (the registry builds it from here)."""
    assert settings.slack_bot_token is not None
    return SlackSender(
        settings.slack_bot_token.get_secret_value(),
        api_url=settings.slack_api_url,
        limits=limits,
        public_url=settings.public_url,
    )


class SlackSender:
    """Sends through slack_sdk's AsyncWebClient, pointed at SLACK_API_URL.

    Every send goes through one keep-alive aiohttp session, opened by the first send
    (inside the running loop) and closed by close(); given none, slack_sdk would open a
    session, and a connection, per message.
    """

    def __init__(
        self, token: str, *, api_url: str, limits: RateLimits, public_url: str = ""
    ) -> None:
        self.http = SlackHttp(token, api_url, timeout=TIMEOUT_SECONDS)
        self._client: AsyncWebClient | None = None
        self.limits = limits
        self.public_url = public_url

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client on the shared session (a new one only if the session is)."""
        session = self.http.session()
        if self._client is None or self._client.session is not session:
            self._client = AsyncWebClient(
                token=self.http.token,
                base_url=self.http.api_url,
                session=session,
                timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def scope(self, destination: Destination) -> str:
        """Slack's 429s on chat.postMessage are per channel."""
        return f"slack:{destination.address}"

    async def _call(
        self, destination: Destination, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        async with self.limits.turn(Platform.SLACK, destination.address, self.scope(destination)):
            return await self._answered(destination, call)

    async def _answered(
        self, destination: Destination, call: Callable[[], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        try:
            return await call()
        except SlackApiError as error:
            response = error.response
            code = str(response.get("error", "")) if response is not None else ""
            status = response.status_code if response is not None else 0
            if status == 429:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"), default=30)
                await self.limits.pause(self.scope(destination), retry_after)
                raise RateLimited(
                    "ratelimited", retry_after=retry_after, scope=self.scope(destination)
                ) from error
            if status >= 500:
                raise Unavailable(f"HTTP {status}") from error
            if code in GONE:
                raise ChannelGone(code) from error
            if code in {"invalid_auth", "not_authed", "token_revoked", "account_inactive"}:
                # The token, not the channel: retrying keeps the queue until someone fixes it.
                raise Unavailable(code) from error
            raise Rejected(code or "unknown error") from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Unavailable(f"{type(error).__name__}: {error}") from error

    async def _post(
        self,
        destination: Destination,
        text: str,
        blocks: list[dict[str, Any]],
        thread: str | None,
        *,
        broadcast: bool = False,
    ) -> str:
        response = await self._call(
            destination,
            lambda: self.client.chat_postMessage(
                channel=destination.address,
                text=text,
                blocks=blocks,
                thread_ts=thread,
                unfurl_links=False,
                unfurl_media=False,
                reply_broadcast=True if broadcast and thread else None,
            ),
        )
        return f"{response['channel']}/{response['ts']}"

    async def _update(
        self, destination: Destination, ref: str, text: str, blocks: list[dict[str, Any]]
    ) -> Sent:
        parts = split_ref(ref)
        if parts is None:
            return Sent()
        channel, ts = parts
        try:
            await self._call(
                destination,
                lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
            )
        except Rejected as error:
            if error.reason not in HARMLESS_EDIT:
                raise
        return Sent()

    def _root(self, job: DeliveryJob) -> tuple[str, list[dict[str, Any]]]:
        if job.destination.is_internal and job.facts is not None:
            return incident_root(job, self.public_url)
        return root_message(job.root)

    def _reply(self, job: DeliveryJob) -> tuple[str, list[dict[str, Any]]]:
        if job.destination.is_internal and job.facts is not None:
            return incident_reply(job)
        return post_message(job.post)

    async def perform(self, operation: Operation, progress: Progress) -> Outcome:
        """Post the opening or a thread reply, or edit a message already posted."""
        return await outcome_of(self._carry_out(operation))

    async def _carry_out(self, operation: Operation) -> Sent:
        job = operation.job
        destination = job.destination
        match operation:
            case PostOpening():
                return Sent(await self._post(destination, *self._root(job), None))
            case ReplyInThread(thread=thread):
                parts = split_ref(thread)
                # Only those following a thread hear of its replies; a nudge is for the
                # responders who are not watching this one, so it is also shown in the channel.
                broadcast = destination.is_internal and job.update_kind == UpdateKind.NUDGE
                ts = parts[1] if parts else None
                return Sent(
                    await self._post(destination, *self._reply(job), ts, broadcast=broadcast)
                )
            case RefreshOpening(ref=ref) | EditMessages(ref=ref, opening=True):
                return await self._update(destination, ref, *self._root(job))
            case EditMessages(ref=ref):
                return await self._update(destination, ref, *self._reply(job))
            case PostCorrection():
                raise Rejected("Slack messages are corrected by editing them")
            case _:
                assert_never(operation)

    async def probe(self, destination: Destination, text: str) -> str:
        """Send a test message."""
        ref = await self._post(destination, mrkdwn_escape(text), [], None)
        return f"message {ref} posted"

    async def close(self) -> None:
        """Close the HTTP session; a send after this fails as Unavailable, opening none."""
        self._client = None
        await self.http.close()
