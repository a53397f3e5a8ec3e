"""One pooled HTTP session for all the Slack front-end sends: Web API calls, response_urls."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

TIMEOUT_SECONDS = 10


class SlackHttp:
    """Clients that share one keep-alive session per event loop.

    slack_sdk opens a new session, and a new connection, for every call when given none;
    under load that handshake costs more than the call.
    """

    def __init__(self, token: str, api_url: str, *, timeout: int = TIMEOUT_SECONDS) -> None:
        self.token = token
        self.api_url = api_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def session(self) -> aiohttp.ClientSession:
        """The shared session, opened on first use inside the running loop."""
        if self._closed:
            # A listener still running at shutdown: its answer is lost, not a session leaked.
            raise aiohttp.ClientConnectionError("Herald is shutting down")
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    def client(self) -> AsyncWebClient:
        """The Web API client with the bot token, at SLACK_API_URL."""
        return AsyncWebClient(
            token=self.token, base_url=self.api_url, session=self.session(), timeout=self.timeout
        )

    def webhook(self, url: str) -> AsyncWebhookClient:
        """A client for one response_url."""
        return AsyncWebhookClient(url, session=self.session(), timeout=self.timeout)

    async def close(self) -> None:
        """Close the session (at shutdown, on the loop that used it); no new one opens."""
        self._closed = True
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
